using NativeLayers.Loading;

namespace NativeLayers.Analysis.Evaluation;

/// <summary>
/// Mean and variance of a metric over prompts (§16.1 asks for both). <see cref="Variance"/> is the population variance
/// (ddof = 0, numpy's default); <see cref="SampleVariance"/> divides by n − 1 (NaN for one value).
/// </summary>
public readonly record struct SummaryStatistics(int Count, double Mean, double Variance, double SampleVariance)
{
    public static SummaryStatistics Of(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        // Welford's update: stable for long runs of similar values.
        int n = 0;
        double mean = 0, m2 = 0;
        foreach (double x in values)
        {
            if (!double.IsFinite(x)) throw new NativeLayersException($"cannot summarise a non-finite value ({x}).");
            n++;
            double delta = x - mean;
            mean += delta / n;
            m2 += delta * (x - mean);
        }
        if (n == 0) throw new NativeLayersException("cannot summarise an empty set of values.");
        return new SummaryStatistics(n, mean, m2 / n, n > 1 ? m2 / (n - 1) : double.NaN);
    }
}
