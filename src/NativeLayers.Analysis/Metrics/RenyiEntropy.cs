using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// Matrix-based Rényi entropy (metrics.md §1): the Rényi entropy of order α of the trace-normalised eigenvalue
/// spectrum of a symmetric PSD matrix. α = 1 is the von Neumann / Shannon limit. Natural log. Eigenvalues are clamped
/// by the §0.2 rule (<see cref="Spectrum.Clamp"/>); Σ pᵅ is computed as exp(logsumexp(α ln p)).
/// </summary>
public static class RenyiEntropy
{
    /// <summary>
    /// Which eigensolver to use for a given size. Jacobi is the spec's suggestion for n ≤ 256, but eigenvalues alone are
    /// much cheaper through Householder + QL above small sizes; both are symmetric solvers (§0.2).
    /// </summary>
    private const int JacobiBelow = 48;

    /// <summary>S_α of a symmetric PSD matrix (symmetrised on a copy, §0.2).</summary>
    public static double Of(Matrix k, double alpha = 1)
    {
        CheckAlpha(alpha);
        return FromEigenvalues(Eigenvalues(k), alpha);
    }

    /// <summary>
    /// S_α of <c>Z Zᵀ</c>, computed through the smaller of <c>Z Zᵀ</c> and <c>Zᵀ Z</c> (§1 "smaller of the two Grams").
    /// </summary>
    public static double OfGram(Matrix z, double alpha = 1)
    {
        CheckAlpha(alpha);
        return FromEigenvalues(Eigenvalues(GramMatrix.Smaller(z)), alpha);
    }

    /// <summary>
    /// S_α from eigenvalues: clamp (§0.2), normalise to p = λ / Σλ, then −Σ p ln p (α = 1) or ln(Σ pᵅ)/(1 − α).
    /// An all-zero spectrum (a zero matrix) is a <see cref="NativeLayersException"/>.
    /// </summary>
    public static double FromEigenvalues(ReadOnlySpan<double> eigenvalues, double alpha = 1)
    {
        CheckAlpha(alpha);
        foreach (double v in eigenvalues)
            if (!double.IsFinite(v)) throw new NativeLayersException("the spectrum contains NaN or infinity.");
        var lambda = Spectrum.Clamp(eigenvalues);
        double total = 0;
        foreach (double v in lambda) total += v;
        if (!(total > 0)) throw new NativeLayersException("the matrix is zero (no positive eigenvalue), so its entropy is undefined.");
        return FromDistribution(lambda, total, alpha);
    }

    /// <summary>The spectrum distribution p_i = λ_i / Σλ after clamping (§1 step 2).</summary>
    public static double[] Distribution(ReadOnlySpan<double> eigenvalues)
    {
        var lambda = Spectrum.Clamp(eigenvalues);
        double total = 0;
        foreach (double v in lambda) total += v;
        if (!(total > 0)) throw new NativeLayersException("the matrix is zero (no positive eigenvalue), so its spectrum has no distribution.");
        for (int i = 0; i < lambda.Length; i++) lambda[i] /= total;
        return lambda;
    }

    private static double FromDistribution(double[] lambda, double total, double alpha)
    {
        if (alpha == 1)
        {
            double h = 0;
            foreach (double v in lambda)
            {
                if (v <= 0) continue;
                double p = v / total;
                h -= p * Math.Log(p);
            }
            return Math.Max(0, h);
        }
        // ln Σ p^α = logsumexp(α ln p), shifted by the largest term.
        double logTotal = Math.Log(total);
        double maxTerm = double.NegativeInfinity;
        foreach (double v in lambda)
            if (v > 0) maxTerm = Math.Max(maxTerm, alpha * (Math.Log(v) - logTotal));
        double sum = 0;
        foreach (double v in lambda)
            if (v > 0) sum += Math.Exp(alpha * (Math.Log(v) - logTotal) - maxTerm);
        double logSum = maxTerm + Math.Log(sum);
        return Math.Max(0, logSum / (1 - alpha));
    }

    /// <summary>
    /// The α = 2 fast path of §1: S_2 = −ln(‖K‖_F² / (tr K)²), no eigendecomposition (O(n²)). Exact for PSD K; it does
    /// not clamp eigenvalues, so round-off negatives are not removed.
    /// </summary>
    public static double SecondOrderFast(Matrix k)
    {
        ArgumentNullException.ThrowIfNull(k);
        Symmetric.RequireSquare(k, "take the entropy of");
        int n = k.Rows;
        double trace = 0, frob = 0;
        for (int i = 0; i < n; i++)
        {
            trace += k.Data[i * n + i];
            for (int j = 0; j < n; j++)
            {
                double v = 0.5 * (k.Data[i * n + j] + k.Data[j * n + i]);
                frob += v * v;
            }
        }
        if (!(trace > 0)) throw new NativeLayersException("the matrix has a non-positive trace, so its entropy is undefined.");
        return -Math.Log(frob / (trace * trace));
    }

    /// <summary>Eigenvalues of a symmetric matrix (symmetrised on a copy) through a symmetric solver only (§0.2).</summary>
    public static double[] Eigenvalues(Matrix k)
    {
        ArgumentNullException.ThrowIfNull(k);
        Symmetric.RequireSquare(k, "decompose");
        if (!k.IsFinite()) throw new NativeLayersException("the matrix contains NaN or infinity.");
        var s = Symmetric.Symmetrized(k);
        return s.Rows < JacobiBelow
            ? SymmetricEigen.Jacobi(s, computeVectors: false).Values
            : SymmetricEigen.TridiagonalQL(s, computeVectors: false).Values;
    }

    internal static void CheckAlpha(double alpha)
    {
        if (!(alpha > 0) || !double.IsFinite(alpha))
            throw new NativeLayersException($"the Rényi order α must be a finite number > 0, got {alpha}.");
    }
}
