using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// The two behaviours of metrics.md (preamble and §0.1): <see cref="Recommended"/> is NativeLayers' default;
/// <see cref="PaperCompat"/> reproduces the reference code of the papers (final-normed last layer, entry clamping,
/// per-prompt TokenNorm before pooling, |cos| curvature, str()-wrapped augmentations).
/// </summary>
public enum MetricMode { Recommended, PaperCompat }

/// <summary>The divisors of the §1 normalisation table.</summary>
public enum EntropyNormalization
{
    /// <summary>No division.</summary>
    Raw,
    /// <summary>Divide by ln N (N = rows of the matrix the Gram came from).</summary>
    LogN,
    /// <summary>Divide by ln D (D = its feature dimension).</summary>
    LogD,
    /// <summary>Divide by ln N · ln D.</summary>
    LogNLogD,
    /// <summary>Divide by min(ln N, ln D).</summary>
    MaxEntropy,
}

/// <summary>Applies the §1 normalisations.</summary>
public static class EntropyNormalizations
{
    public static readonly EntropyNormalization[] All =
        [EntropyNormalization.Raw, EntropyNormalization.LogN, EntropyNormalization.LogD, EntropyNormalization.LogNLogD, EntropyNormalization.MaxEntropy];

    /// <summary>The divisor of §1 for a matrix with <paramref name="n"/> rows and <paramref name="d"/> features (NaN when it is 0, i.e. n or d is 1).</summary>
    public static double Divisor(EntropyNormalization normalization, int n, int d)
    {
        if (n < 1 || d < 1) throw new NativeLayersException($"normalisation needs N ≥ 1 and D ≥ 1, got N = {n}, D = {d}.");
        double div = normalization switch
        {
            EntropyNormalization.Raw => 1,
            EntropyNormalization.LogN => Math.Log(n),
            EntropyNormalization.LogD => Math.Log(d),
            EntropyNormalization.LogNLogD => Math.Log(n) * Math.Log(d),
            EntropyNormalization.MaxEntropy => Math.Min(Math.Log(n), Math.Log(d)),
            _ => throw new ArgumentOutOfRangeException(nameof(normalization)),
        };
        return div;
    }

    /// <summary><paramref name="entropy"/> divided by the §1 divisor (NaN where the divisor is 0).</summary>
    public static double Apply(double entropy, EntropyNormalization normalization, int n, int d)
    {
        double div = Divisor(normalization, n, d);
        return div == 0 ? double.NaN : entropy / div;
    }

    /// <summary>Short names for reports: raw, logN, logD, logNlogD, maxEntropy (as in the §1 table).</summary>
    public static string Name(EntropyNormalization normalization) => normalization switch
    {
        EntropyNormalization.Raw => "raw",
        EntropyNormalization.LogN => "logN",
        EntropyNormalization.LogD => "logD",
        EntropyNormalization.LogNLogD => "logNlogD",
        EntropyNormalization.MaxEntropy => "maxEntropy",
        _ => throw new ArgumentOutOfRangeException(nameof(normalization)),
    };
}
