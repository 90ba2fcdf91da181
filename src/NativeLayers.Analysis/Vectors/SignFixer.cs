using NativeLayers.Analysis.Linalg;

namespace NativeLayers.Analysis.Vectors;

/// <summary>The outcome of a sign decision: whether the axis was flipped and the resulting pair ordering.</summary>
public readonly record struct SignDecision(bool Flipped, double FractionCorrectlyOrdered);

/// <summary>
/// Sign fixing for PCA directions (§12). Projects each pair onto u; repeng's rule flips u when h⁺ projects below h⁻
/// in more pairs than above (ties count for neither); the mean rule flips when mean_i d_i·u &lt; 0.
/// </summary>
public static class SignFixer
{
    /// <summary>Decides the sign from the pair differences and flips <paramref name="u"/> in place when needed.</summary>
    public static SignDecision Fix(Span<double> u, Matrix differences, SignRule rule)
    {
        int above = 0, below = 0;
        double sum = 0;
        for (int i = 0; i < differences.Rows; i++)
        {
            double g = VectorMath.Dot(differences.Row(i), u);
            sum += g;
            if (g > 0) above++;
            else if (g < 0) below++;
        }
        bool flip = rule switch
        {
            SignRule.Repeng => below > above,
            SignRule.MeanProjection => sum < 0,
            _ => throw new ArgumentOutOfRangeException(nameof(rule)),
        };
        if (flip)
            for (int i = 0; i < u.Length; i++) u[i] = -u[i];
        int n = differences.Rows;
        return new SignDecision(flip, n == 0 ? double.NaN : (double)(flip ? below : above) / n);
    }

    /// <summary>Fraction of pairs with d_i·v &gt; 0 (no flipping).</summary>
    public static double FractionCorrectlyOrdered(ReadOnlySpan<double> v, Matrix differences)
    {
        int above = 0;
        for (int i = 0; i < differences.Rows; i++)
            if (VectorMath.Dot(differences.Row(i), v) > 0) above++;
        return differences.Rows == 0 ? double.NaN : (double)above / differences.Rows;
    }
}
