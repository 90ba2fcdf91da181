using NativeLayers.Analysis.Evaluation;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests.Evaluation;

/// <summary>Worked example E14 of §16.1.</summary>
public class NextTokenDivergenceE14Tests
{
    private static readonly double[] Z1 = [2, 1, 0, -1];
    private static readonly double[] Z2 = [1, 2, 0.5, -1];

    [Fact]
    public void Softmax()
    {
        Expect.Sig([0.643914, 0.236883, 0.0871443, 0.0320586], NextTokenDivergence.Softmax(Z1));
        Expect.Sig([0.224208, 0.609460, 0.135989, 0.0303432], NextTokenDivergence.Softmax(Z2));
    }

    [Fact]
    public void KlBothDirectionsAndPaperCompat()
    {
        Expect.Sig(0.418451, NextTokenDivergence.KlDivergence(Z1, Z2));
        Expect.Sig(0.398254, NextTokenDivergence.KlDivergence(Z2, Z1));
        double compat = NextTokenDivergence.KlDivergence(Z1, Z2, KlMode.PaperCompat);
        Expect.Sig(0.418451, compat);
        Assert.True(Math.Abs(compat - NextTokenDivergence.KlDivergence(Z1, Z2)) < 1e-7);
        Assert.Equal(0, NextTokenDivergence.KlDivergence(Z1, Z1), 15);
    }

    [Fact]
    public void EntropyNatsAndBits()
    {
        Expect.Sig(0.947537, NextTokenDivergence.Entropy(Z1));
        Expect.Sig(1.36701, NextTokenDivergence.EntropyBits(Z1));
        Expect.Sig(1.46347, NextTokenDivergence.EntropyBits(Z2));
        Expect.Sig(Math.Log(4), NextTokenDivergence.Entropy([3.0, 3, 3, 3]), 12);
    }

    [Fact]
    public void JensenShannon()
    {
        Expect.Sig(0.0980662, NextTokenDivergence.JensenShannon(Z1, Z2));
        Assert.Equal(NextTokenDivergence.JensenShannon(Z1, Z2), NextTokenDivergence.JensenShannon(Z2, Z1), 15);
        // Disjoint supports reach the bound ln 2.
        double ni = double.NegativeInfinity;
        Assert.Equal(Math.Log(2), NextTokenDivergence.JensenShannon([0, ni], [ni, 0]), 14);
    }

    [Fact]
    public void FloatOverloadsAndLargeLogits()
    {
        float[] f1 = [2, 1, 0, -1], f2 = [1, 2, 0.5f, -1];
        Expect.Sig(0.418451, NextTokenDivergence.KlDivergence(f1, f2));
        Expect.Sig(1.46347, NextTokenDivergence.EntropyBits(f2));
        Expect.Sig(0.0980662, NextTokenDivergence.JensenShannon(f1, f2));
        // Shift invariance with logits far beyond exp's range.
        var big1 = Z1.Select(z => z + 1000).ToArray();
        var big2 = Z2.Select(z => z - 1000).ToArray();
        Expect.Sig(0.418451, NextTokenDivergence.KlDivergence(big1, big2));
    }

    [Fact]
    public void MaskedTokensAndErrors()
    {
        double ni = double.NegativeInfinity;
        // A token impossible under p contributes nothing; impossible under q but possible under p gives +∞.
        Assert.True(double.IsFinite(NextTokenDivergence.KlDivergence([0, 0, ni], [0, 0, 5])));
        Assert.True(double.IsPositiveInfinity(NextTokenDivergence.KlDivergence([0, 0, 5], [0, 0, ni])));
        Assert.Throws<NativeLayersException>(() => NextTokenDivergence.KlDivergence(Z1, [1.0, 2]));
        Assert.Throws<NativeLayersException>(() => NextTokenDivergence.Entropy([double.NaN, 1]));
        Assert.Throws<NativeLayersException>(() => NextTokenDivergence.Entropy(Array.Empty<double>()));
        Assert.Throws<NativeLayersException>(() => NextTokenDivergence.Entropy([ni, ni]));
    }

    [Fact]
    public void SummaryOverPrompts()
    {
        var s = SummaryStatistics.Of([1.0, 2, 3, 4]);
        Assert.Equal(4, s.Count);
        Assert.Equal(2.5, s.Mean, 15);
        Assert.Equal(1.25, s.Variance, 15);
        Assert.Equal(5.0 / 3, s.SampleVariance, 15);
        Assert.True(double.IsNaN(SummaryStatistics.Of([7.0]).SampleVariance));
        Assert.Throws<NativeLayersException>(() => SummaryStatistics.Of([]));
    }
}
