using NativeLayers.Analysis.Overheads;

namespace NativeLayers.Analysis.Tests.Overheads;

public sealed class PairedRatiosTests
{
    [Fact]
    public void TheMedianRatioAndDifferenceComeFromThePairs()
    {
        var pairs = new PairedRatios();
        pairs.Add(2.0, 2.2);  // 1.10, +0.2
        pairs.Add(1.0, 1.3);  // 1.30, +0.3
        pairs.Add(4.0, 4.0);  // 1.00, 0
        Assert.Equal(3, pairs.Count);
        Assert.Equal(1.1, pairs.MedianRatio, 12);
        Assert.Equal(0.2, pairs.MedianDifference, 12);
        pairs.Add(1.0, 1.2);  // 1.20: even count, mean of the middle two
        Assert.Equal(1.15, pairs.MedianRatio, 12);
    }

    [Fact]
    public void IdenticalRatiosGiveAPointInterval()
    {
        var pairs = new PairedRatios();
        for (int i = 1; i <= 20; i++) pairs.Add(i, 1.02 * i);
        var (low, high) = pairs.ConfidenceInterval();
        Assert.Equal(1.02, low, 12);
        Assert.Equal(1.02, high, 12);
        Assert.Equal(0, pairs.HalfWidth(), 12);
    }

    [Fact]
    public void TheIntervalIsReproducibleAndHasTheWidthTheoryPredicts()
    {
        // Ratios 1.05 + N(0, 0.01²): the sample median's standard error is √(π/2) · σ / √n, so the 95% interval is
        // about ±1.96 · 1.2533 · 0.01 / √n wide; the percentile bootstrap must agree within sampling error.
        var random = new Random(3);
        var pairs = new PairedRatios();
        const int n = 1001;
        for (int i = 0; i < n; i++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            pairs.Add(1.0, 1.05 + 0.01 * gaussian);
        }
        var (low, high) = pairs.ConfidenceInterval();
        Assert.Equal((low, high), pairs.ConfidenceInterval());
        Assert.InRange(pairs.MedianRatio, low, high);
        Assert.InRange(1.05, low, high);
        double predicted = 1.96 * Math.Sqrt(Math.PI / 2) * 0.01 / Math.Sqrt(n);
        Assert.InRange(pairs.HalfWidth(), 0.7 * predicted, 1.3 * predicted);
    }

    [Fact]
    public void MorePairsNarrowTheInterval()
    {
        var random = new Random(5);
        var pairs = new PairedRatios();
        double Next() => 1 + 0.05 * (random.NextDouble() - 0.5);
        for (int i = 0; i < 16; i++) pairs.Add(1, Next());
        double few = pairs.HalfWidth();
        for (int i = 0; i < 16 * 15; i++) pairs.Add(1, Next());
        Assert.True(pairs.HalfWidth() < few / 2.5, $"±{pairs.HalfWidth():E2} with 256 pairs against ±{few:E2} with 16");
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(1.0, -1.0)]
    [InlineData(double.NaN, 1.0)]
    public void TimingsMustBePositive(double plain, double feature) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PairedRatios().Add(plain, feature));

    [Fact]
    public void AnIntervalNeedsPairs() => Assert.Throws<InvalidOperationException>(() => new PairedRatios().ConfidenceInterval());
}
