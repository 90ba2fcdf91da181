using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>The InfoNCE loss of two views and its mutual-information bound (metrics.md §7).</summary>
/// <param name="Loss">(1/N) Σ_i [logsumexp_j G_ij − G_ii], G = A Bᵀ / τ.</param>
/// <param name="MIBound">1 − Loss / ln N (higher is better; may be negative; NaN for N = 1).</param>
/// <param name="RowLosses">The per-row cross-entropies.</param>
public sealed record InfoNceResult(double Loss, double MIBound, double[] RowLosses);

/// <summary>
/// InfoNCE (metrics.md §7): row i of A and of B are two augmentations of prompt i. <see cref="Compute"/> is the later
/// reference (one direction, cross-entropy of G = A Bᵀ/τ with target i); <see cref="SimClr"/> the earlier reference's
/// symmetric NT-Xent over the stacked 2N rows. Everything is done with logsumexp (no exp overflow for small τ).
/// </summary>
public static class InfoNce
{
    public const double DefaultTemperature = 0.1;

    public static InfoNceResult Compute(Matrix a, Matrix b, double temperature = DefaultTemperature)
    {
        Check(a, b, temperature);
        int n = a.Rows;
        var g = GramMatrix.Cross(a, b);
        var losses = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            var row = g.Row(i);
            for (int j = 0; j < n; j++) row[j] /= temperature;
            losses[i] = LogSumExp(row, -1) - row[i];
            total += losses[i];
        }
        double loss = total / n;
        return new InfoNceResult(loss, n > 1 ? 1 - loss / Math.Log(n) : double.NaN, losses);
    }

    /// <summary>
    /// The SimClr variant: Z = [A; B] (2N×D), logits Z Zᵀ/τ; for each row the positive is the other copy of the same
    /// prompt, the negatives are every other prompt's rows in both views, self-similarity excluded;
    /// loss = −mean_r ln(pos_r / (pos_r + neg_r)).
    /// </summary>
    public static double SimClr(Matrix a, Matrix b, double temperature = DefaultTemperature)
    {
        Check(a, b, temperature);
        int n = a.Rows, d = a.Cols, m = 2 * n;
        var z = new Matrix(m, d);
        a.Data.CopyTo(z.Data, 0);
        b.Data.CopyTo(z.Data, n * d);
        var s = GramMatrix.Rows(z);
        double total = 0;
        for (int r = 0; r < m; r++)
        {
            var row = s.Row(r);
            for (int c = 0; c < m; c++) row[c] /= temperature;
            int positive = r < n ? r + n : r - n;
            // ln(pos / (pos + neg)) = s_pos − logsumexp over every c ≠ r.
            total += LogSumExp(row, r) - row[positive];
        }
        return total / m;
    }

    /// <summary>logsumexp of <paramref name="values"/>, leaving out index <paramref name="skip"/> (−1: none).</summary>
    internal static double LogSumExp(ReadOnlySpan<double> values, int skip)
    {
        double max = double.NegativeInfinity;
        for (int i = 0; i < values.Length; i++) if (i != skip && values[i] > max) max = values[i];
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        for (int i = 0; i < values.Length; i++) if (i != skip) sum += Math.Exp(values[i] - max);
        return max + Math.Log(sum);
    }

    private static void Check(Matrix a, Matrix b, double temperature)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Rows != b.Rows || a.Cols != b.Cols)
            throw new NativeLayersException($"the two views must have the same shape, got {a.Rows}×{a.Cols} and {b.Rows}×{b.Cols}.");
        if (a.Rows < 1) throw new NativeLayersException("InfoNCE needs at least one pair.");
        if (!(temperature > 0) || !double.IsFinite(temperature))
            throw new NativeLayersException($"the temperature τ must be a finite number > 0, got {temperature}.");
        if (!a.IsFinite() || !b.IsFinite()) throw new NativeLayersException("the views contain NaN or infinity.");
    }
}
