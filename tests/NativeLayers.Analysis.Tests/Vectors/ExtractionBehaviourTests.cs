using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Vectors;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests.Vectors;

public class ExtractionBehaviourTests
{
    [Fact]
    public void SignRules_RepengMajorityVersusMean()
    {
        // d = (1,0), (1,0), (−5,0): two pairs say +x, the mean says −x.
        var pos = Matrix.FromRows([1, 0], [1, 0], [-5, 0]);
        var neg = new Matrix(3, 2);
        var repeng = SteeringExtractor.Extract(SteeringMethod.PcaDiffUncentered, pos, neg);
        Expect.Sig([1, 0], repeng.Values);
        Assert.Equal(2.0 / 3, repeng.FractionCorrectlyOrdered!.Value, 14);

        var mean = SteeringExtractor.Extract(SteeringMethod.PcaDiffUncentered, pos, neg, new() { SignRule = SignRule.MeanProjection });
        Expect.Sig([-1, 0], mean.Values);
        Assert.Equal(1.0 / 3, mean.FractionCorrectlyOrdered!.Value, 14);
    }

    [Fact]
    public void SignFixerFlipsAndReports()
    {
        var d = Matrix.FromRows([1, 0], [2, 0], [-1, 0], [0, 0]);
        double[] u = [-1, 0];
        var decision = SignFixer.Fix(u, d, SignRule.Repeng);
        Assert.True(decision.Flipped);
        Assert.Equal(new double[] { 1, 0 }, u);
        Assert.Equal(0.5, decision.FractionCorrectlyOrdered); // the zero pair counts as not correctly ordered
        // A tie (one above, one below) does not flip.
        double[] w = [1, 0];
        Assert.False(SignFixer.Fix(w, Matrix.FromRows([1, 0], [-3, 0]), SignRule.Repeng).Flipped);
        Assert.True(SignFixer.Fix(w, Matrix.FromRows([1, 0], [-3, 0]), SignRule.MeanProjection).Flipped);
    }

    [Fact]
    public void PcaMethodsAreSignFixedWhateverTheRawAxisSign()
    {
        // Negating all differences must negate the vector (sign is tied to the data, not to the solver).
        var v1 = SteeringExtractor.Extract(SteeringMethod.PcaDiffCentered, ExtractionE11Tests.Positive, ExtractionE11Tests.Negative);
        var v2 = SteeringExtractor.Extract(SteeringMethod.PcaDiffCentered, ExtractionE11Tests.Negative, ExtractionE11Tests.Positive);
        for (int i = 0; i < 3; i++) Assert.Equal(-v1.Values[i], v2.Values[i], 12);
        Assert.Equal(1.0, v2.FractionCorrectlyOrdered);
    }

    [Fact]
    public void CentredPcaRejectsFewerThanTwoPairs()
    {
        var one = Matrix.FromRows([1, 2, 3]);
        var zero = new Matrix(1, 3);
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.PcaDiffCentered, one, zero));
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.RepEReading, one, zero));
        // The uncentred PCA is fine with one pair: it is that pair's direction.
        Expect.Sig([1 / Math.Sqrt(14), 2 / Math.Sqrt(14), 3 / Math.Sqrt(14)],
            SteeringExtractor.Extract(SteeringMethod.PcaDiffUncentered, one, zero).Values);
    }

    [Fact]
    public void InvalidInputsAreRejected()
    {
        var p = Matrix.FromRows([1, 2], [3, 4]);
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.MeanDiff, p, null));
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.MeanDiff, p, Matrix.FromRows([1, 2, 3], [4, 5, 6])));
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.MeanDiffUnit, p, p));     // zero mean difference
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.PcaDiffUncentered, p, p)); // no variance
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.Reading, p, null,
            new() { Scaling = VectorScaling.ScaleToMeanDiffNorm }));
        var bad = p.Clone();
        bad[0, 0] = double.NaN;
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.Reading, bad, null));
        Assert.Throws<NativeLayersException>(() => SteeringExtractor.Extract(SteeringMethod.Reading, new Matrix(0, 2), null));
    }

    [Fact]
    public void ScaleToResidNorm_UsesMedianRowNormOverAllRows()
    {
        // Row norms: H⁺ 5, 13, 1; H⁻ 10, 2, 3 → median of {1,2,3,5,10,13} = 4.
        var pos = Matrix.FromRows([3, 4], [5, 12], [1, 0]);
        var neg = Matrix.FromRows([6, 8], [0, 2], [0, 3]);
        Assert.Equal(4, Activations.MedianRowNorm(pos, neg), 14);
        var v = SteeringExtractor.Extract(SteeringMethod.MeanDiff, pos, neg, new() { Scaling = VectorScaling.ScaleToResidNorm(0.5) });
        Assert.Equal(2, v.Norm, 12);
        var raw = SteeringExtractor.Extract(SteeringMethod.MeanDiff, pos, neg).Values;
        Assert.Equal(1, VectorMath.Cosine(raw, v.Values), 12);
        Assert.Equal("ScaleToResidNorm(0.5)", v.Scaling.ToString());
    }

    [Fact]
    public void RepEReading_IsSeededUnitAndSignFixed()
    {
        var r = new Random(42);
        int n = 40, dim = 6;
        var pos = new Matrix(n, dim);
        var neg = new Matrix(n, dim);
        double[] concept = [1, -2, 0.5, 0, 1, 0];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < dim; k++)
            {
                double shared = r.NextDouble() * 4 - 2;
                pos[i, k] = shared + 0.5 * concept[k] + 0.1 * (r.NextDouble() - 0.5);
                neg[i, k] = shared - 0.5 * concept[k] + 0.1 * (r.NextDouble() - 0.5);
            }
        var a = SteeringExtractor.Extract(SteeringMethod.RepEReading, pos, neg, new() { Seed = 3 });
        var b = SteeringExtractor.Extract(SteeringMethod.RepEReading, pos, neg, new() { Seed = 3 });
        Assert.Equal(a.Values, b.Values);
        Assert.Equal(1, a.Norm, 12);
        Assert.Equal(1.0, a.FractionCorrectlyOrdered);
        Assert.True(VectorMath.Cosine(a.Values, concept) > 0.99);
        // Every method recovers the concept on clean data.
        foreach (var m in new[] { SteeringMethod.MeanDiff, SteeringMethod.PcaDiffUncentered, SteeringMethod.MeanDiffUnit })
            Assert.True(VectorMath.Cosine(SteeringExtractor.Extract(m, pos, neg).Values, concept) > 0.99, m.ToString());
    }

    [Fact]
    public void HeldOutEvaluation_OnE11Pairs()
    {
        var s = HeldOutEvaluation.Evaluate([2, 0, 0], ExtractionE11Tests.Positive, ExtractionE11Tests.Negative);
        Assert.Equal(4, s.Pairs);
        Assert.Equal(1.0, s.FractionCorrect);
        Assert.Equal(1.75, s.MeanGap, 14); // projection on the unit direction: independent of the scale 2
        // H⁺ projections (2,3,2,4), H⁻ (1,1,1,1): pooled sd = sqrt((2.75 + 0) / 6).
        Assert.Equal(1.75 / Math.Sqrt(2.75 / 6), s.CohensD, 12);

        var flipped = HeldOutEvaluation.Evaluate([0, 1, 0], ExtractionE11Tests.Positive, ExtractionE11Tests.Negative);
        Assert.Equal(0.25, flipped.FractionCorrect); // only pair 2 has d·y > 0
        Assert.Equal(0, flipped.MeanGap, 14);

        Assert.Throws<NativeLayersException>(() => HeldOutEvaluation.Evaluate([1, 0], ExtractionE11Tests.Positive, ExtractionE11Tests.Negative));
        Assert.Throws<NativeLayersException>(() => HeldOutEvaluation.Evaluate([0, 0, 0], ExtractionE11Tests.Positive, ExtractionE11Tests.Negative));
        var single = HeldOutEvaluation.Evaluate([1, 0, 0], Matrix.FromRows([2, 0, 0]), Matrix.FromRows([1, 0, 0]));
        Assert.True(double.IsNaN(single.CohensD));
    }

    [Fact]
    public void AllTokensRowsWithZeroDifferenceAreDropped()
    {
        var pos = Matrix.FromRows([1, 2], [3, 4], [5, 6], [0, 0]);
        var neg = Matrix.FromRows([1, 2], [3, 5], [5, 6 + 1e-7], [0, 0]);
        var (p, n, dropped) = Activations.DropZeroDifferencePairs(pos, neg);
        Assert.Equal(3, dropped);
        Assert.Equal(1, p.Rows);
        Assert.Equal(new double[] { 3, 4 }, p.Data);
        Assert.Equal(new double[] { 3, 5 }, n.Data);
    }

    [Fact]
    public void LargeWidthUsesRowGramPath()
    {
        // D = 2000 ≫ N = 12: the PCA goes through the 12×12 Gram.
        var r = new Random(5);
        var pos = new Matrix(12, 2000);
        var neg = new Matrix(12, 2000);
        for (int i = 0; i < pos.Data.Length; i++) { pos.Data[i] = r.NextDouble(); neg.Data[i] = r.NextDouble(); }
        for (int i = 0; i < 12; i++) pos[i, 7] += 30;
        var v = SteeringExtractor.Extract(SteeringMethod.PcaDiffUncentered, pos, neg);
        Assert.Equal(1, v.Norm, 10);
        Assert.True(v.Values[7] > 0.9);
    }
}
