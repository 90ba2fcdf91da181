using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// Effective rank (metrics.md §4), two distinct variants: <see cref="SingularValue"/> (Roy &amp; Vetterli, the
/// entropy of the normalised singular values) and <see cref="Gram"/> (<c>exp(S_1(Z Zᵀ))</c>, the entropy of σ²).
/// Both lie in [1, rank].
/// </summary>
public static class EffectiveRank
{
    /// <summary><c>ERankSV(Z) = exp(−Σ q ln q)</c>, q_i = σ_i / Σσ. Singular values come from the smaller Gram's eigenvalues.</summary>
    public static double SingularValue(Matrix z)
    {
        ArgumentNullException.ThrowIfNull(z);
        var lambda = Spectrum.Clamp(RenyiEntropy.Eigenvalues(GramMatrix.Smaller(z)));
        var sigma = lambda.Select(Math.Sqrt).ToArray();
        return FromSingularValues(sigma);
    }

    /// <summary>ERankSV from singular values (σ ≥ 0).</summary>
    public static double FromSingularValues(ReadOnlySpan<double> singularValues)
    {
        double total = 0;
        foreach (double s in singularValues)
        {
            if (!(s >= 0) || !double.IsFinite(s)) throw new NativeLayersException($"a singular value must be finite and ≥ 0, got {s}.");
            total += s;
        }
        if (!(total > 0)) throw new NativeLayersException("the matrix is zero, so its effective rank is undefined.");
        double h = 0;
        foreach (double s in singularValues)
        {
            if (s <= 0) continue;
            double q = s / total;
            h -= q * Math.Log(q);
        }
        return Math.Exp(h);
    }

    /// <summary><c>ERankGram(Z) = exp(S_1(Z Zᵀ))</c>. Apply to <c>TokenNorm(Z)</c> for the prompt-level version.</summary>
    public static double Gram(Matrix z) => Math.Exp(RenyiEntropy.OfGram(z, 1));
}
