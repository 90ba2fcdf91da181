using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// Dataset entropy (metrics.md §3): the entropy of the Gram of one pooled vector per prompt. Recommended:
/// <c>X̃ = UnitRows(CenterRows(MeanPool rows))</c>, <c>S_α(X̃X̃ᵀ)</c>. PaperCompat: rows are
/// <c>mean(TokenNorm(Z_i))</c> (<see cref="PaperCompatPool"/>), no re-centring, then the §2 PaperCompat entropy.
/// </summary>
public static class DatasetEntropy
{
    /// <summary>Recommended §3 from the prompts' hidden states (each T_i×D).</summary>
    public static double Compute(IReadOnlyList<Matrix> prompts, double alpha = 1, MetricMode mode = MetricMode.Recommended)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new NativeLayersException("dataset entropy needs at least one prompt.");
        int d = prompts[0].Cols;
        var pooled = new List<double[]>(prompts.Count);
        foreach (var p in prompts)
        {
            if (p.Cols != d) throw new NativeLayersException($"prompts have different widths ({p.Cols} and {d}).");
            var row = mode == MetricMode.PaperCompat ? PaperCompatPool(p) : Preprocessing.MeanPool(p);
            if (mode == MetricMode.PaperCompat && !IsFinite(row)) continue; // §0.3: NaN items are dropped
            pooled.Add(row);
        }
        if (pooled.Count == 0) throw new NativeLayersException("no prompt could be pooled.");
        return FromPooled(Preprocessing.Stack(pooled, d), alpha, mode);
    }

    /// <summary>
    /// §3 from the already pooled N×D matrix (MeanPool rows in Recommended mode, <see cref="PaperCompatPool"/> rows in
    /// PaperCompat mode).
    /// </summary>
    public static double FromPooled(Matrix pooled, double alpha = 1, MetricMode mode = MetricMode.Recommended)
    {
        ArgumentNullException.ThrowIfNull(pooled);
        if (pooled.Rows < 1) throw new NativeLayersException("dataset entropy needs at least one prompt.");
        if (mode == MetricMode.PaperCompat) return PromptEntropy.PaperCompatEntropy(pooled, alpha);
        var x = Preprocessing.CenterRows(pooled);
        Preprocessing.UnitRowsInPlace(x, MetricMode.Recommended);
        return RenyiEntropy.OfGram(x, alpha);
    }

    /// <summary>
    /// The PaperCompat pooled row: the mean over tokens of <c>TokenNorm(Z)</c>. A 2-token prompt pools to exactly the
    /// zero vector (flag it); a 1-token prompt pools to NaN (drop it).
    /// </summary>
    public static double[] PaperCompatPool(Matrix z)
    {
        ArgumentNullException.ThrowIfNull(z);
        return Preprocessing.MeanPool(Preprocessing.TokenNorm(z, MetricMode.PaperCompat));
    }

    internal static bool IsFinite(ReadOnlySpan<double> v)
    {
        foreach (double x in v) if (!double.IsFinite(x)) return false;
        return true;
    }
}
