using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Vectors;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests.Vectors;

/// <summary>Worked example E11 of §12, every row of its table.</summary>
public class ExtractionE11Tests
{
    internal static Matrix Positive => Matrix.FromRows([2, 1, 0], [3, 1, 1], [2, 2, 0], [4, 0, 1]);
    internal static Matrix Negative => Matrix.FromRows([1, 1, 0], [1, 0, 1], [1, 2, 1], [1, 1, 0]);

    private static ExtractedVector Run(SteeringMethod method, ExtractionOptions? options = null) =>
        SteeringExtractor.Extract(method, Positive, Negative, options);

    [Fact]
    public void PairDifferences()
    {
        var d = Activations.Differences(Positive, Negative);
        Assert.Equal(new double[] { 1, 0, 0, 2, 1, 0, 1, 0, -1, 3, -1, 1 }, d.Data);
    }

    [Fact]
    public void MeanDiff()
    {
        var v = Run(SteeringMethod.MeanDiff);
        Expect.Sig([1.75, 0, 0], v.Values);
        Expect.Sig(1.75, v.Norm);
        Expect.Sig(1.75, v.MeanDiffNorm!.Value);
        Assert.Equal(1.0, v.FractionCorrectlyOrdered);
        Assert.False(v.SignFlipped);
    }

    [Fact]
    public void MeanDiffUnit()
    {
        var v = Run(SteeringMethod.MeanDiffUnit);
        Expect.Sig([1, 0, 0], v.Values);
        Assert.Equal(1, v.Norm, 14);
    }

    [Fact]
    public void Reading()
    {
        var v = SteeringExtractor.Extract(SteeringMethod.Reading, Positive, null);
        Expect.Sig([2.75, 1, 0.5], v.Values);
        Assert.Null(v.FractionCorrectlyOrdered);
        Assert.Null(v.MeanDiffNorm);
    }

    [Fact]
    public void PcaDiffCentered_AfterSignFix()
    {
        var v = Run(SteeringMethod.PcaDiffCentered);
        Expect.Sig([0.691393, -0.418549, 0.588891], v.Values);
        Assert.Equal(1, v.Norm, 12);
        Assert.Equal(1.0, v.FractionCorrectlyOrdered);
        var d = Activations.Differences(Positive, Negative);
        double[] expected = [0.691393, 0.964237, 0.102502, 3.08162];
        for (int i = 0; i < 4; i++) Expect.Sig(expected[i], VectorMath.Dot(d.Row(i), v.Values));
        // Same answer under the mean-based rule (all projections are positive).
        Expect.Sig([0.691393, -0.418549, 0.588891], Run(SteeringMethod.PcaDiffCentered, new() { SignRule = SignRule.MeanProjection }).Values);
    }

    [Fact]
    public void PcaDiffUncentered_SignFixed()
    {
        var v = Run(SteeringMethod.PcaDiffUncentered);
        Expect.Sig([0.984522, -0.0849273, 0.153308], v.Values);
        Assert.Equal(1.0, v.FractionCorrectlyOrdered);
        Assert.InRange(v.ExplainedVarianceRatio!.Value, 0.5, 1);
    }

    [Fact]
    public void Cosines()
    {
        var mean = Run(SteeringMethod.MeanDiff).Values;
        Expect.Sig(0.984522, VectorMath.Cosine(mean, Run(SteeringMethod.PcaDiffUncentered).Values));
        Expect.Sig(0.691393, VectorMath.Cosine(mean, Run(SteeringMethod.PcaDiffCentered).Values));
    }

    [Fact]
    public void RepanaPcaCStandardized_UpToSign()
    {
        var v = Run(SteeringMethod.PcaDiffCentered, new() { Scaling = VectorScaling.ScaleToMeanDiffNorm });
        double[] expected = [1.20994, -0.732461, 1.03056];
        double sign = Math.Sign(v.Values[0]);
        for (int i = 0; i < 3; i++) Expect.Sig(expected[i], sign * v.Values[i]);
        Expect.Sig(1.75, v.Norm);
    }

    [Fact]
    public void UnpairedMeanDiff_OnE11_EqualsMeanDiff_AndAllowsDifferentCounts()
    {
        Expect.Sig([1.75, 0, 0], SteeringExtractor.Extract(SteeringMethod.UnpairedMeanDiff, Positive, Negative).Values);
        var pos = Matrix.FromRows([1, 0], [3, 2], [2, 1]);
        var neg = Matrix.FromRows([0, 1], [0, 3]);
        var v = SteeringExtractor.Extract(SteeringMethod.UnpairedMeanDiff, pos, neg);
        Expect.Sig([2, -1], v.Values);
        Assert.Null(v.FractionCorrectlyOrdered);
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.MeanDiff, pos, neg));
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.PcaDiffUncentered, pos, neg));
    }
}
