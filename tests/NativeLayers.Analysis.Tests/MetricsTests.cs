using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Metrics;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests;

/// <summary>The worked examples E1–E8 of metrics.md (§1–§9) and invariance/bound checks.</summary>
public sealed class MetricsTests
{
    private const double Eig = 1e-5; // relative tolerance through an eigendecomposition

    private static Matrix M(params double[][] rows) => Matrix.FromRows(rows);

    // ---- E1 (§1) ----
    private static readonly Matrix E1 = M([2, 1, 0], [1, 2, 1], [0, 1, 2]);

    [Theory]
    [InlineData(0.5, 0.994452)]
    [InlineData(1.0, 0.914178)]
    [InlineData(2.0, 0.810930)]
    [InlineData(3.0, 0.752039)]
    public void E1_RenyiEntropy(double alpha, double expected) => Expect.Sig(expected, RenyiEntropy.Of(E1, alpha), 6, Eig);

    [Fact]
    public void E1_SpectrumAndFastPath()
    {
        var p = RenyiEntropy.Distribution(RenyiEntropy.Eigenvalues(E1)).Order().ToArray();
        Expect.Sig([0.0976311, 0.333333, 0.569036], p);
        Expect.Sig(0.810930, RenyiEntropy.SecondOrderFast(E1));
        Assert.True(RenyiEntropy.Of(E1) <= Math.Log(3));
    }

    [Fact]
    public void RenyiRejectsBadInput()
    {
        Assert.Throws<NativeLayersException>(() => RenyiEntropy.Of(E1, 0));
        Assert.Throws<NativeLayersException>(() => RenyiEntropy.Of(E1, -1));
        Assert.Throws<NativeLayersException>(() => RenyiEntropy.Of(new Matrix(3, 3)));
    }

    [Fact]
    public void RenyiIsContinuousAtAlphaOne() =>
        Expect.Close(RenyiEntropy.Of(E1, 1), RenyiEntropy.Of(E1, 1 + 1e-7), 1e-6);

    // ---- E2 (§2) ----
    private static readonly Matrix E2a = M([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]);
    private static readonly Matrix E2b = M([1, 2, 0], [0, 1, 1], [2, 0, 1], [1, 1, 3]);

    [Fact]
    public void E2a_Symmetric()
    {
        double s1 = PromptEntropy.Compute(E2a, 1);
        Expect.Sig(Math.Log(3), s1, 6, Eig);
        Expect.Sig(Math.Log(3), PromptEntropy.Compute(E2a, 2), 6, Eig);
        Expect.Sig(0.792481, EntropyNormalizations.Apply(s1, EntropyNormalization.LogN, 4, 3), 6, Eig);
        Expect.Sig(1.00000, EntropyNormalizations.Apply(s1, EntropyNormalization.MaxEntropy, 4, 3), 6, Eig);
        Expect.Sig(3.00000, Math.Exp(s1), 6, Eig);
        Expect.Sig(Math.Log(3), PromptEntropy.Compute(E2a, 1, MetricMode.PaperCompat), 6, Eig);
        var k = GramMatrix.Rows(Preprocessing.TokenNorm(E2a));
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) Expect.Close(i == j ? 1 : -1.0 / 3, k[i, j], 1e-12);
    }

    [Fact]
    public void E2b_Asymmetric()
    {
        var k = GramMatrix.Rows(Preprocessing.TokenNorm(E2b));
        Expect.Sig([1, 0.189389, -0.299050, -0.780869], k.Row(0));
        Expect.Sig([0.189389, 1, -0.633300, -0.242536], k.Row(1));
        Expect.Sig([-0.299050, -0.633300, 1, -0.174078], k.Row(2));
        Expect.Sig([-0.780869, -0.242536, -0.174078, 1], k.Row(3));
        var eig = Spectrum.Clamp(RenyiEntropy.Eigenvalues(k)).Order().ToArray();
        Assert.Equal(0, eig[0]);
        Expect.Sig([0.531674, 1.45741, 2.01091], eig.AsSpan(1), 6);

        Expect.Sig(1.03429, PromptEntropy.Compute(E2b, 0.5), 6, Eig);
        double s1 = PromptEntropy.Compute(E2b, 1);
        Expect.Sig(0.981823, s1, 6, Eig);
        Expect.Sig(0.908431, PromptEntropy.Compute(E2b, 2), 6, Eig);
        Expect.Sig(0.708236, EntropyNormalizations.Apply(s1, EntropyNormalization.LogN, 4, 3), 6, Eig);
        Expect.Sig(0.893694, EntropyNormalizations.Apply(s1, EntropyNormalization.MaxEntropy, 4, 3), 6, Eig);
        Expect.Sig(2.66932, Math.Exp(s1), 6, Eig);
        Expect.Sig(1.06178, PromptEntropy.Compute(E2b, 1, MetricMode.PaperCompat), 6, Eig);
        Expect.Sig(0.789920, RenyiEntropy.OfGram(E2b, 1), 6, Eig);

        // The choice of matrix matters under entry clamping: clamp the 4×4 Gram instead.
        var k4 = GramMatrix.Rows(Preprocessing.TokenNorm(E2b));
        for (int i = 0; i < k4.Data.Length; i++) k4.Data[i] = Math.Max(0, k4.Data[i]);
        Expect.Sig(1.37727, RenyiEntropy.Of(k4, 1), 6, Eig);
        // α = 2 fast path on the TokenNorm Gram agrees with the eigen route.
        Expect.Sig(0.908431, RenyiEntropy.SecondOrderFast(k), 6, Eig);
    }

    [Fact]
    public void PromptEntropyNeedsTwoTokens()
    {
        Assert.Throws<NativeLayersException>(() => PromptEntropy.Compute(M([1, 2, 3])));
        Assert.Throws<NativeLayersException>(() => PromptEntropy.Compute(M([1, 2, 3], [1, 2, 3]))); // identical tokens centre to zero
    }

    [Fact]
    public void PromptEntropyIsBoundedAndUsesTheSmallerGram()
    {
        var rng = new SplitMix64(7);
        foreach (var (t, d) in new[] { (5, 40), (40, 5), (60, 60) })
        {
            var z = Random(t, d, rng);
            foreach (double alpha in new[] { 0.5, 1, 2, 3 })
            {
                double h = PromptEntropy.Compute(z, alpha);
                Assert.InRange(h, 0, Math.Log(Math.Min(t, d)) + 1e-9);
                // Same value through either Gram (§1).
                var zt = Preprocessing.TokenNorm(z);
                Expect.Close(RenyiEntropy.Of(GramMatrix.Rows(zt), alpha), RenyiEntropy.Of(GramMatrix.Columns(zt), alpha), 1e-9);
            }
        }
    }

    [Fact]
    public void EntropyIsInvariantToRotationAndScale()
    {
        var rng = new SplitMix64(3);
        var z = Random(30, 8, rng);
        var q = ThinSvd.Compute(Random(8, 8, rng)).U; // orthogonal 8×8
        var rotated = z.Multiply(q);
        for (int i = 0; i < rotated.Data.Length; i++) rotated.Data[i] *= 3.5;
        Expect.Close(PromptEntropy.Compute(z), PromptEntropy.Compute(rotated), 1e-9);
    }

    // ---- E3 (§4) ----
    [Fact]
    public void E3_EffectiveRank()
    {
        var a = M([3, 0], [0, 1], [0, 0]);
        Expect.Sig(1.75477, EffectiveRank.SingularValue(a), 6, Eig);
        Expect.Sig(1.75477, EffectiveRank.FromSingularValues([3, 1]));
        Expect.Sig(1.38415, EffectiveRank.Gram(a), 6, Eig);
        Expect.Sig(3.00000, EffectiveRank.Gram(Preprocessing.TokenNorm(E2a)), 6, Eig);
        Expect.Sig(2.66932, EffectiveRank.Gram(Preprocessing.TokenNorm(E2b)), 6, Eig);
        var rng = new SplitMix64(11);
        var z = Random(20, 6, rng);
        Assert.InRange(EffectiveRank.SingularValue(z), 1, 6 + 1e-9);
        Assert.InRange(EffectiveRank.Gram(z), 1, 6 + 1e-9);
    }

    // ---- E4 (§3) ----
    private static readonly Matrix[] E4 =
    [
        M([1, 0], [3, 0], [2, 1]),
        M([0, 2], [1, 2], [0, 3]),
        M([1, 1], [2, 0]),
        M([-1, 0], [0, -1], [1, 1]),
    ];

    [Fact]
    public void E4_DatasetEntropyRecommended()
    {
        var pooled = E4.Select(p => Preprocessing.MeanPool(p)).ToArray();
        Expect.Sig([2, 0.333333], pooled[0]);
        Expect.Sig([0.333333, 2.33333], pooled[1]);
        Expect.Sig([1.5, 0.5], pooled[2]);
        Expect.Sig([0, 0], pooled[3]);
        double s = DatasetEntropy.Compute(E4, 1);
        Expect.Sig(0.624663, s, 6, Eig);
        Expect.Sig(0.450599, EntropyNormalizations.Apply(s, EntropyNormalization.LogN, 4, 2), 6, Eig);
    }

    [Fact]
    public void E4_DatasetEntropyPaperCompat()
    {
        var pooled = E4.Select(DatasetEntropy.PaperCompatPool).ToArray();
        Expect.Sig([0, 0.122515], pooled[0]);
        Expect.Sig([-0.0866311, -0.0866311], pooled[1]);
        Assert.All(pooled[2], v => Assert.True(Math.Abs(v) < 1e-15)); // the 2-token prompt pools to zero
        Expect.Sig([-0.0976311, -0.0976311], pooled[3]);
        var pt = Preprocessing.Stack(pooled, 2);
        var ptp = GramMatrix.Columns(pt);
        Expect.Sig([0.0170368, 0.0170368], ptp.Row(0));
        Expect.Sig([0.0170368, 0.0320466], ptp.Row(1));
        Expect.Sig(0.368350, DatasetEntropy.Compute(E4, 1, MetricMode.PaperCompat), 6, Eig);
    }

    [Fact]
    public void E4_SecondCheck()
    {
        Matrix[] prompts = [M([1, 0], [3, 0]), M([0, 2], [0, 2], [0, 2]), M([1, 1]), M([-1, 0], [0, -1])];
        double s = DatasetEntropy.Compute(prompts, 1);
        Expect.Sig(0.685528, s, 6, Eig);
        Expect.Sig(0.494504, EntropyNormalizations.Apply(s, EntropyNormalization.LogN, 4, 2), 6, Eig);
        Expect.Sig(0.989008, EntropyNormalizations.Apply(s, EntropyNormalization.MaxEntropy, 4, 2), 6, Eig);
    }

    // ---- E5 (§5) ----
    private static readonly Matrix E5 = M([0, 0, 0], [1, 0, 0], [1, 2, 0], [0, 2, 1], [3, 1, 1]);

    [Fact]
    public void E5_Curvature()
    {
        double c = Curvature.Compute(E5);
        Expect.Sig(1.81590, c);
        Expect.Sig(1.65290, Curvature.LogD(c, 3));
        Expect.Sig(1.32569, Curvature.Compute(E5, absolute: true));
    }

    [Fact]
    public void CurvatureOfAStraightTrajectoryIsZero()
    {
        var z = new Matrix(6, 4);
        double[] dir = [1, -2, 0.5, 3];
        for (int t = 0; t < 6; t++) for (int k = 0; k < 4; k++) z[t, k] = 0.7 + t * t * dir[k]; // uneven steps, one direction
        Expect.Close(0, Curvature.Compute(z), 1e-7);
        // A repeated token (zero step) contributes angle 0 and is counted.
        var rep = M([0, 0], [1, 0], [1, 0], [1, 1]);
        // Steps (1,0), (0,0), (0,1): both angles involve the zero step, so both are 0 and the mean is 0 (not π/4, the
        // angle a rule that skipped the repeated token would give between (1,0) and (0,1) halved).
        Assert.Equal(0, Curvature.Compute(rep));
        Assert.Equal(0, Curvature.Compute(rep, absolute: true));
        Assert.Throws<NativeLayersException>(() => Curvature.Compute(M([0, 0], [1, 1])));
        // Bounds: [0, π], and [0, π/2] for the absolute variant.
        var rng = new SplitMix64(5);
        var r = Random(12, 5, rng);
        Assert.InRange(Curvature.Compute(r), 0, Math.PI);
        Assert.InRange(Curvature.Compute(r, absolute: true), 0, Math.PI / 2);
        Assert.InRange(Curvature.OfPrompt(r), 0, Math.PI);
    }

    // ---- E6 (§7) ----
    private static readonly Matrix E6A = M([1, 0], [0, 1], [0.6, 0.8]);
    private static readonly Matrix E6B = M([0.96, 0.28], [0.28, 0.96], [0.6, 0.8]);

    [Fact]
    public void E6_InfoNce()
    {
        var r = InfoNce.Compute(E6A, E6B, 0.1);
        Expect.Sig([0.0280407, 0.184827, 0.508399], r.RowLosses);
        Expect.Sig(0.240422, r.Loss);
        Expect.Sig(0.781158, r.MIBound);
        Expect.Sig(0.481590, InfoNce.SimClr(E6A, E6B, 0.1));

        var bad = M([0.8, 0.6], [0, 1], [0.6, -0.8]);
        var rb = InfoNce.Compute(E6A, bad, 0.1);
        Expect.Sig(4.24309, rb.Loss);
        Expect.Sig(-2.86223, rb.MIBound);
        Expect.Sig(3.98592, InfoNce.SimClr(E6A, bad, 0.1));
        // Tiny τ: no overflow.
        Assert.True(double.IsFinite(InfoNce.Compute(E6A, E6B, 1e-4).Loss));
        Assert.True(double.IsFinite(InfoNce.SimClr(E6A, E6B, 1e-4)));
    }

    // ---- E7 (§8) ----
    [Fact]
    public void E7_Lidar()
    {
        Matrix[] classes = [M([1, 0], [1.2, 0.2]), M([0, 1], [0.2, 1.4]), M([-1, -1], [-1.2, -0.8])];
        var r = Lidar.Compute(classes, 1, 1e-4);
        Expect.Sig([82.4183, 33.1479], r.Eigenvalues.OrderDescending().Take(2).ToArray(), 6);
        Expect.Sig(0.599289, r.Entropy, 6, Eig);
        Expect.Sig(0.545497, EntropyNormalizations.Apply(r.Entropy, EntropyNormalization.LogN, 3, 2), 6, Eig);
        Expect.Sig(1.82082, r.EffectiveRank, 6, Eig);
    }

    [Fact]
    public void LidarStreamsManyClassesAndWideWidths()
    {
        var rng = new SplitMix64(9);
        // N > D and N < D routes give entropies within [0, ln min(N, D)].
        foreach (var (n, d) in new[] { (40, 6), (6, 40) })
        {
            var classes = Enumerable.Range(0, n).Select(_ => Random(4, d, rng)).ToArray();
            var r = Lidar.Compute(classes);
            Assert.InRange(r.Entropy, 0, Math.Log(Math.Min(n - 1, d)) + 1e-9);
        }
    }

    // ---- E8 (§9) ----
    private static readonly Matrix E8A = M([1, 0], [0, 1], [0.6, 0.8], [-0.8, 0.6]);
    private static readonly Matrix E8B = M([0.96, 0.28], [0.28, 0.96], [0.8, 0.6], [-0.6, 0.8]);

    [Fact]
    public void E8_DimeExact()
    {
        var r1 = Dime.Exact(E8A, E8B, 1);
        Assert.Equal(24, r1.Permutations);
        Expect.Sig(1.08254, r1.Matched, 6, Eig);
        Expect.Sig(1.15513, r1.Shuffled, 6, Eig);
        Expect.Sig(0.0725913, r1.Value, 6, Eig);
        Expect.Sig(0.104727, EntropyNormalizations.Apply(r1.Value, EntropyNormalization.MaxEntropy, 4, 2), 6, Eig);
        var r2 = Dime.Exact(E8A, E8B, 2);
        Expect.Sig(1.00311, r2.Matched, 6, Eig);
        Expect.Sig(1.06616, r2.Shuffled, 6, Eig);
        Expect.Sig(0.0630487, r2.Value, 6, Eig);

        var a = M([1, 0], [0.6, 0.8], [0, 1]);
        var b = M([0.8, 0.6], [1, 0], [0, 1]);
        Assert.Equal(6, Dime.Exact(a, b, 1).Permutations);
        Expect.Sig(-0.0401726, Dime.Exact(a, b, 1).Value, 6, Eig);
        Expect.Sig(-0.0546214, Dime.Exact(a, b, 2).Value, 6, Eig);
    }

    [Fact]
    public void DimeSampleIsReproducibleWithASeed()
    {
        var x = Dime.Sample(E8A, E8B, 1, 10, seed: 42);
        var y = Dime.Sample(E8A, E8B, 1, 10, seed: 42);
        Assert.Equal(x, y with { });
        Assert.Equal(x.Value, y.Value);
        Assert.Equal(10, x.Permutations);
        Assert.InRange(x.Value, -1, 1);
    }

    // ---- §6 ----
    [Fact]
    public void AugmentationsAreSeededAndPerturbText()
    {
        const string text = "The quick brown fox jumps over the lazy sleeping dog near riverbanks";
        var aug = new TextAugmenter(123);
        string a = aug.Augment(text, 0, 0), b = new TextAugmenter(123).Augment(text, 0, 0);
        Assert.Equal(a, b);
        Assert.NotEqual(text, a);
        Assert.NotEqual(a, aug.Augment(text, 0, 1));
        Assert.NotEqual(a, new TextAugmenter(124).Augment(text, 0, 0));
        // Split adds exactly one word per chosen word: 0.3·9 eligible → 2 splits.
        var rng = new SplitMix64(1);
        string split = TextAugmenter.Split(text, rng);
        Assert.Equal(text.Split(' ').Length + 2, split.Split(' ').Length);
        Assert.Equal(text.Replace(" ", ""), split.Replace(" ", ""));
        // Substitution keeps the length and the word count.
        string sub = TextAugmenter.Substitute(text, new SplitMix64(2));
        Assert.Equal(text.Length, sub.Length);
        Assert.NotEqual(text, sub);
        string typo = TextAugmenter.KeyboardTypo("aaaa", new SplitMix64(3));
        Assert.Equal(4, typo.Length);
        Assert.Single(typo, c => c != 'a'); // ⌊0.3·4⌋ → 1 character
        Assert.Contains(typo.Single(c => c != 'a'), "qwszQWSZ");
        // Words shorter than 4 characters are never touched.
        Assert.Equal("a an the", aug.Augment("a an the", 0, 0));
        // PaperCompat: Python's str() of a one-element list.
        Assert.Equal("['a an the']", new TextAugmenter(1, MetricMode.PaperCompat).Augment("a an the", 0, 0));
        Assert.Equal("[\"it's\"]", TextAugmenter.PythonListRepr("it's"));
    }

    private static Matrix Random(int rows, int cols, SplitMix64 rng)
    {
        var m = new Matrix(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = rng.NextDouble() * 2 - 1;
        return m;
    }
}
