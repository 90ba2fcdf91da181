using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// Prompt entropy (metrics.md §2): the matrix-based Rényi entropy of one prompt's token Gram at one layer, after
/// <c>TokenNorm</c>. Recommended: <c>S_α(Z̃ Z̃ᵀ)</c> computed through the smaller Gram. PaperCompat (the reference's
/// <c>compute_entropy</c>): build <c>Z̃ᵀZ̃</c> when T &gt; D, else <c>Z̃Z̃ᵀ</c>, clamp every entry at ≥ 0, then S_α.
/// Normalise with <see cref="EntropyNormalizations"/> using N = T.
/// </summary>
public static class PromptEntropy
{
    /// <summary>S_α of one prompt's T×D hidden states (T ≥ 2; a zero centred token is an error in Recommended mode).</summary>
    public static double Compute(Matrix z, double alpha = 1, MetricMode mode = MetricMode.Recommended)
    {
        ArgumentNullException.ThrowIfNull(z);
        if (z.Rows < 2)
            throw new NativeLayersException($"prompt entropy needs at least 2 tokens, got {z.Rows} (§0.3: single-token prompts are skipped).");
        var normalized = Preprocessing.TokenNorm(z, mode);
        if (!normalized.IsFinite())
            throw new NativeLayersException("a token equals the prompt's mean token, so TokenNorm is 0/0 (§0.3).");
        return FromTokenNormalized(normalized, alpha, mode);
    }

    /// <summary>S_α of an already token-normalised matrix (<c>TokenNorm(Z)</c>).</summary>
    public static double FromTokenNormalized(Matrix normalized, double alpha = 1, MetricMode mode = MetricMode.Recommended)
    {
        ArgumentNullException.ThrowIfNull(normalized);
        return mode == MetricMode.PaperCompat
            ? PaperCompatEntropy(normalized, alpha)
            : RenyiEntropy.OfGram(normalized, alpha);
    }

    /// <summary>
    /// The reference's entropy of a data matrix (§2 PaperCompat steps 1–3, also used by §3 PaperCompat): the smaller
    /// Gram (<c>XᵀX</c> when rows &gt; cols, else <c>XXᵀ</c>) with every entry clamped at ≥ 0, trace-normalised,
    /// eigenvalues ≤ 0 dropped.
    /// </summary>
    public static double PaperCompatEntropy(Matrix x, double alpha = 1)
    {
        ArgumentNullException.ThrowIfNull(x);
        var k = x.Rows > x.Cols ? GramMatrix.Columns(x) : GramMatrix.Rows(x);
        var data = k.Data;
        for (int i = 0; i < data.Length; i++) if (data[i] < 0) data[i] = 0;
        return RenyiEntropy.Of(k, alpha);
    }
}
