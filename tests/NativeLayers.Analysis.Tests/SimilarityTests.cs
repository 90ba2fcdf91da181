using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests;

public class SimilarityTests
{
    private static readonly Matrix E9X = Matrix.FromRows([1, 2], [2, 1], [3, 4], [4, 3], [5, 7]);
    private static readonly Matrix E9Y = Matrix.FromRows([2, 0], [1, 1], [4, 1], [3, 3], [8, 2]);

    [Fact]
    public void LinearCka_E9_BothForms()
    {
        Expect.Sig(0.982040, Cka.Linear(E9X, E9Y));
        Expect.Sig(0.982040, Cka.LinearFeatureForm(E9X, E9Y));
        Expect.Sig(0.982040, Cka.LinearGramForm(E9X, E9Y));
        Expect.Sig(0.982040, Cka.FromKernels(Kernels.Linear(E9X), Kernels.Linear(E9Y)));
    }

    [Fact]
    public void Hsic_E9()
    {
        Expect.Sig(54.0425, Hsic.Biased(Kernels.Linear(E9X), Kernels.Linear(E9Y)));
        Expect.Sig(26.8000, Hsic.Unbiased(Kernels.Linear(E9X), Kernels.Linear(E9Y)));
        // The unbiased HSIC ignores the feature means; the U-centring route gives the same number.
        Expect.Sig(26.8000, Hsic.Unbiased(Kernels.CenteredLinear(E9X), Kernels.CenteredLinear(E9Y)));
        var ux = Kernels.UCenterInPlace(Kernels.Linear(E9X));
        var uy = Kernels.UCenterInPlace(Kernels.Linear(E9Y));
        Expect.Sig(26.8000, System.Numerics.Tensors.TensorPrimitives.Dot<double>(ux.Data, uy.Data) / (5 * 2));
    }

    [Fact]
    public void DebiasedCka_E9()
    {
        Expect.Sig(0.980360, Cka.DebiasedLinear(E9X, E9Y));
        Expect.Sig(0.970561, Cka.DebiasedRbf(E9X, E9Y));
    }

    [Fact]
    public void RbfCka_E9()
    {
        Expect.Sig(0.978262, Cka.Rbf(E9X, E9Y));
        Expect.Sig(0.972523, Cka.Rbf(E9X, E9Y, new RbfOptions { Threshold = 0.5 }));
        Expect.Sig(0.978636, Cka.Rbf(E9X, E9Y, new RbfOptions { Median = RbfMedian.OffDiagonal }));
    }

    [Fact]
    public void Cca_E10()
    {
        var x = Matrix.FromRows([2, 0.5, 1, 0.01], [1, -1, 0, -0.02], [-1, 2, 1, 0], [0, 0, -2, 0.03],
            [-2, -1.5, 0.5, -0.01], [3, 1, -1, 0.02], [-1, 0.5, 0.5, -0.03], [-2, -1.5, 0, 0]);
        var y = Matrix.FromRows([1, 2, 0], [2, 0, 1], [-1, 1, 2], [0.5, -1, -1], [-2, -2, 0], [2.5, 1.5, -1], [0, 1, 0.5], [-1.5, -2, 0.5]);
        var sv = Cca.Svcca(x, y);
        Assert.Equal(3, sv.KeptX);
        Assert.Equal(3, sv.KeptY);
        Expect.Sig([0.637917, 0.873534, 0.999968, 1], sv.CumulativeVarianceX);
        Expect.Sig([0.685950, 0.923788, 1], sv.CumulativeVarianceY);
        Expect.Sig([0.996109, 0.963698, 0.240888], sv.Correlations);
        Expect.Sig(0.733565, sv.Value);
        Assert.NotEmpty(sv.Warnings); // n = 8 < 10·(p + q)

        var plain = Cca.CanonicalCorrelations(x, y);
        Expect.Sig([0.999904, 0.988180, 0.505051], plain.Correlations);
        Expect.Sig(0.831045, plain.Mean);

        var pw = Cca.Pwcca(x, y);
        Expect.Sig([0.378819, 0.427564, 0.193617], pw.Weights);
        Expect.Sig(0.899079, pw.Value);
    }

    [Fact]
    public void Cca_E10_NoTruncation()
    {
        var x = Matrix.FromRows([1, 0, 2], [2, 1, 0], [0, 1, 1], [3, 2, 1], [1, 3, 0], [2, 0, 3]);
        var y = Matrix.FromRows([2, 1], [3, 0], [1, 2], [5, 1], [4, 3], [2, 3]);
        var sv = Cca.Svcca(x, y);
        Expect.Sig([0.985193, 0.892827], sv.Correlations);
        Expect.Sig(0.939010, sv.Value);
        Expect.Sig(0.939010, Cca.CanonicalCorrelations(x, y).Mean);
        var pw = Cca.Pwcca(x, y);
        Expect.Sig([0.631876, 0.368124], pw.Weights);
        Expect.Sig(0.951191, pw.Value);
    }

    [Fact]
    public void CcaNeedsMoreRowsThanWidths()
    {
        var x = Random(4, 3, 1);
        Assert.Throws<NativeLayersException>(() => Cca.CanonicalCorrelations(x, Random(4, 2, 2)));
    }

    [Fact]
    public void CkaInvariances()
    {
        var x = Random(40, 6, 7);
        var y = Random(40, 5, 8);
        var q = RandomOrthogonal(6, 9);
        var xq = x.Multiply(q);
        var scaled = x.Clone();
        for (int i = 0; i < scaled.Data.Length; i++) scaled.Data[i] = 3.7 * scaled.Data[i] + (i % 6) * 2.0; // isotropic scale + shift
        foreach (var method in Enum.GetValues<SimilarityMethod>().Where(m => m != SimilarityMethod.Pwcca))
        {
            Expect.Close(1, LayerSimilarity.Pair(x, x, method), 1e-9);
            double reference = LayerSimilarity.Pair(x, y, method);
            Expect.Close(reference, LayerSimilarity.Pair(xq, y, method), 1e-9);
            Expect.Close(reference, LayerSimilarity.Pair(scaled, y, method), 1e-9);
            Expect.Close(reference, LayerSimilarity.Pair(y, x, method), 1e-9); // symmetric
        }
        Expect.Close(1, Cca.Pwcca(x, x).Value, 1e-9);
        // Not invariant to a general invertible map.
        var general = Matrix.FromRows([1, 5, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0.1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 3, 1, 0], [0, 0, 0, 0, 0, 20]);
        Assert.True(Math.Abs(Cka.Linear(x.Multiply(general), y) - Cka.Linear(x, y)) > 1e-4);
    }

    [Fact]
    public void LayerMatrices_MatchPairwise_BothLinearForms()
    {
        var layersA = Enumerable.Range(0, 4).Select(i => Random(30, 5 + i, 100 + i)).ToArray();
        var layersB = Enumerable.Range(0, 3).Select(i => Random(30, 8, 200 + i)).ToArray();
        layersB[1] = layersA[2].Multiply(RandomOrthogonal(7, 5)); // a rotated copy: CKA 1
        foreach (var method in Enum.GetValues<SimilarityMethod>())
        {
            var self = LayerSimilarity.Compute(layersA, null, method);
            var cross = LayerSimilarity.Compute(layersA, layersB, method);
            Assert.Equal(30, cross.Rows);
            for (int i = 0; i < 4; i++)
            {
                for (int j = 0; j < 4; j++)
                    Expect.Close(LayerSimilarity.Pair(layersA[i], layersA[j], method), self.Values[i, j], 1e-9);
                for (int j = 0; j < 3; j++)
                    Expect.Close(LayerSimilarity.Pair(layersA[i], layersB[j], method), cross.Values[i, j], 1e-9);
            }
            if (method != SimilarityMethod.Pwcca)
                for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) Assert.Equal(self.Values[i, j], self.Values[j, i]);
        }
        // Feature form (forced by a zero kernel budget) agrees with the kernel form.
        var feature = LayerSimilarity.Compute(layersA, layersB, SimilarityMethod.LinearCka, new SimilarityOptions { KernelMemoryBudgetBytes = 0 });
        var kernel = LayerSimilarity.Compute(layersA, layersB, SimilarityMethod.LinearCka, new SimilarityOptions { KernelMemoryBudgetBytes = long.MaxValue });
        Assert.StartsWith("feature", feature.Form);
        for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) Expect.Close(kernel.Values[i, j], feature.Values[i, j], 1e-12);
        Expect.Close(1, kernel.Values[2, 1], 1e-9);
    }

    [Fact]
    public void DenseKernelsMatchNaiveProducts()
    {
        var a = Random(13, 11, 3);
        var b = Random(9, 11, 4);
        var c = DenseKernels.TimesTranspose(a, b);
        var reference = a.Multiply(b.Transpose());
        for (int i = 0; i < c.Data.Length; i++) Expect.Close(reference.Data[i], c.Data[i], 1e-12);
        var g = DenseKernels.Gram(a);
        var gr = a.RowGram();
        for (int i = 0; i < g.Data.Length; i++) Expect.Close(gr.Data[i], g.Data[i], 1e-12);
    }

    internal static Matrix Random(int n, int d, int seed)
    {
        var rng = new Random(seed);
        var m = new Matrix(n, d);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = rng.NextDouble() * 2 - 1;
        return m;
    }

    internal static Matrix RandomOrthogonal(int d, int seed)
    {
        var qr = PivotedQr.Compute(Random(d, d, seed));
        return qr.QTransposed; // rows orthonormal, square: orthogonal
    }
}
