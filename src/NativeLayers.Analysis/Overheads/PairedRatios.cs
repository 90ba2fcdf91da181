namespace NativeLayers.Analysis.Overheads;

/// <summary>
/// The ratios of paired timings (feature ÷ plain, one pair per repetition) and their median with a percentile
/// bootstrap 95% confidence interval: the resampling is seeded, so the same timings always give the same interval.
/// </summary>
public sealed class PairedRatios
{
    private readonly List<double> _ratios = [];
    private readonly List<double> _differences = [];

    public int Count => _ratios.Count;
    public IReadOnlyList<double> Ratios => _ratios;

    /// <summary>Adds one pair: the plain and the feature's seconds for the same work.</summary>
    public void Add(double plainSeconds, double featureSeconds)
    {
        if (!(plainSeconds > 0) || !(featureSeconds > 0))
            throw new ArgumentOutOfRangeException(nameof(plainSeconds), $"timings must be positive, got {plainSeconds} and {featureSeconds}.");
        _ratios.Add(featureSeconds / plainSeconds);
        _differences.Add(featureSeconds - plainSeconds);
    }

    public double MedianRatio => Median(_ratios);

    /// <summary>Median of feature − plain seconds per pair.</summary>
    public double MedianDifference => Median(_differences);

    /// <summary>The 2.5th and 97.5th percentiles of the median ratio over <paramref name="resamples"/> bootstrap resamples.</summary>
    public (double Low, double High) ConfidenceInterval(int resamples = 2000, int seed = 17)
    {
        if (_ratios.Count == 0) throw new InvalidOperationException("no pairs measured yet.");
        var random = new Random(seed);
        var medians = new double[resamples];
        var sample = new double[_ratios.Count];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < sample.Length; i++) sample[i] = _ratios[random.Next(_ratios.Count)];
            medians[r] = Median(sample);
        }
        Array.Sort(medians);
        return (Quantile(medians, 0.025), Quantile(medians, 0.975));
    }

    /// <summary>Half the interval's width, as a fraction of the plain time (0.005 = ±0.5%).</summary>
    public double HalfWidth()
    {
        var (low, high) = ConfidenceInterval();
        return (high - low) / 2;
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new InvalidOperationException("the median of no values.");
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>Linear interpolation between order statistics of a sorted array (numpy's default).</summary>
    private static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
