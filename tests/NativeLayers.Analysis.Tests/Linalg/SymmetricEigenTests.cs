using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests.Linalg;

public class SymmetricEigenTests
{
    internal static Matrix RandomSymmetric(int n, int seed)
    {
        var r = new Random(seed);
        var m = new Matrix(n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double v = r.NextDouble() * 2 - 1;
                m[i, j] = v;
                m[j, i] = v;
            }
        return m;
    }

    internal static Matrix RandomMatrix(int rows, int cols, int seed)
    {
        var r = new Random(seed);
        var m = new Matrix(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = r.NextDouble() * 2 - 1;
        return m;
    }

    private static void CheckDecomposition(Matrix a, EigenDecomposition eig, double tol)
    {
        int n = a.Rows;
        var v = eig.Vectors!;
        double scale = Math.Max(1, eig.Values.Max(Math.Abs));
        for (int j = 0; j < n; j++)
        {
            if (j > 0) Assert.True(eig.Values[j] <= eig.Values[j - 1], "eigenvalues must be descending");
            var x = v.Column(j);
            var ax = a.Multiply(x);
            for (int i = 0; i < n; i++)
                Assert.True(Math.Abs(ax[i] - eig.Values[j] * x[i]) <= tol * scale, $"A v ≠ λ v for j={j}, i={i}");
        }
        var vtv = v.Transpose().Multiply(v);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                Assert.True(Math.Abs(vtv[i, j] - (i == j ? 1 : 0)) <= tol, $"VᵀV not identity at ({i},{j}): {vtv[i, j]}");
    }

    [Fact]
    public void KnownTridiagonalMatrix_E1()
    {
        var k = Matrix.FromRows([2, 1, 0], [1, 2, 1], [0, 1, 2]);
        foreach (var eig in new[] { SymmetricEigen.Jacobi(k), SymmetricEigen.TridiagonalQL(k), SymmetricEigen.Decompose(k) })
        {
            Assert.Equal(2 + Math.Sqrt(2), eig.Values[0], 12);
            Assert.Equal(2, eig.Values[1], 12);
            Assert.Equal(2 - Math.Sqrt(2), eig.Values[2], 12);
            CheckDecomposition(k, eig, 1e-12);
            // Top eigenvector is (1, √2, 1)/2, positive by the sign convention.
            Assert.Equal(0.5, eig.Vector(0)[0], 12);
            Assert.Equal(Math.Sqrt(2) / 2, eig.Vector(0)[1], 12);
        }
    }

    [Fact]
    public void DiagonalAndIdentityAndTinyCases()
    {
        var d = Matrix.FromRows([1, 0, 0], [0, 5, 0], [0, 0, -3]);
        var eig = SymmetricEigen.Decompose(d);
        Assert.Equal(new double[] { 5, 1, -3 }, eig.Values);
        Assert.Equal(new double[] { 0, 1, 0 }, eig.Vector(0));
        CheckDecomposition(d, eig, 1e-14);

        foreach (var solver in new Func<Matrix, bool, EigenDecomposition>[] { SymmetricEigen.Jacobi, SymmetricEigen.TridiagonalQL })
        {
            var id = Matrix.Identity(4);
            var e = solver(id, true);
            Assert.All(e.Values, x => Assert.Equal(1, x, 14));
            CheckDecomposition(id, e, 1e-14);

            var zero = new Matrix(3, 3);
            Assert.All(solver(zero, true).Values, x => Assert.Equal(0, x));
            Assert.Equal(new[] { 7.0 }, solver(Matrix.FromRows([7]), true).Values);
            Assert.Empty(solver(new Matrix(0, 0), true).Values);
            var two = Matrix.FromRows([1, 2], [2, 1]);
            var e2 = solver(two, true);
            Assert.Equal(3, e2.Values[0], 13);
            Assert.Equal(-1, e2.Values[1], 13);
        }
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(50, 2)]
    [InlineData(300, 3)]
    public void RandomSymmetric_SatisfiesEigenEquationAndOrthonormality(int n, int seed)
    {
        var a = RandomSymmetric(n, seed);
        var eig = SymmetricEigen.Decompose(a);
        CheckDecomposition(a, eig, 1e-10);
        // Trace is preserved.
        double trace = 0;
        for (int i = 0; i < n; i++) trace += a[i, i];
        Assert.Equal(trace, eig.Values.Sum(), 9);
    }

    [Theory]
    [InlineData(3, 4)]
    [InlineData(50, 5)]
    public void JacobiAndQLAgree(int n, int seed)
    {
        var a = RandomSymmetric(n, seed);
        var j = SymmetricEigen.Jacobi(a);
        var q = SymmetricEigen.TridiagonalQL(a);
        CheckDecomposition(a, j, 1e-11);
        CheckDecomposition(a, q, 1e-11);
        for (int i = 0; i < n; i++) Assert.Equal(j.Values[i], q.Values[i], 11);
        // Distinct eigenvalues: vectors agree exactly, signs fixed by the same convention.
        for (int c = 0; c < n; c++)
        {
            var x = j.Vector(c);
            var y = q.Vector(c);
            for (int i = 0; i < n; i++) Assert.Equal(x[i], y[i], 8);
        }
    }

    [Fact]
    public void ValuesOnlyMatchesFullDecomposition()
    {
        foreach (int n in new[] { 20, 260 })
        {
            var a = RandomSymmetric(n, 11);
            var full = SymmetricEigen.Decompose(a);
            var values = SymmetricEigen.Eigenvalues(a);
            for (int i = 0; i < n; i++) Assert.Equal(full.Values[i], values[i], 10);
        }
    }

    [Fact]
    public void RankDeficientGram_ClampsRoundOffToZero()
    {
        // 400 × 6 data: the 400×400 row Gram has rank 6, so 394 eigenvalues are round-off.
        var z = RandomMatrix(400, 6, 7);
        var eig = SymmetricEigen.Decompose(z.RowGram());
        var clamped = eig.ClampedValues();
        Assert.Equal(6, clamped.Count(x => x > 0));
        var small = SymmetricEigen.Decompose(z.ColumnGram()).Values;
        for (int i = 0; i < 6; i++) Assert.Equal(small[i], clamped[i], 9);
    }

    [Fact]
    public void RankDeficientGram_BothSolversConvergeAndAgree()
    {
        // Many eigenvalues at the round-off floor: the QL deflation must use a norm-relative test to converge.
        var g = RandomMatrix(250, 100, 2).RowGram();
        var j = SymmetricEigen.Jacobi(g);
        var q = SymmetricEigen.TridiagonalQL(g);
        CheckDecomposition(g, j, 1e-9);
        CheckDecomposition(g, q, 1e-9);
        Assert.Equal(100, j.ClampedValues().Count(x => x > 0));
        Assert.Equal(100, q.ClampedValues().Count(x => x > 0));
        for (int i = 0; i < 100; i++) Assert.Equal(j.Values[i], q.Values[i], 9);
    }

    [Fact]
    public void ClampRule()
    {
        Assert.Equal(new double[] { 10, 1e-11, 0, 0, 0 }, Spectrum.Clamp([10, 1e-11, 9e-12, 0, -1e-3]));
        Assert.Equal(new double[] { 0, 0 }, Spectrum.Clamp([-1, -2]));
        Assert.Equal(new[] { 0.0 }, Spectrum.Clamp([0.0]));
    }

    [Fact]
    public void NonSymmetricInputIsSymmetrised()
    {
        // (K + Kᵀ)/2 of this is the E1 matrix.
        var k = Matrix.FromRows([2, 1.5, 0], [0.5, 2, 1], [0, 1, 2]);
        var eig = SymmetricEigen.Decompose(k);
        Assert.Equal(2 + Math.Sqrt(2), eig.Values[0], 12);
        Assert.Equal(1.5, k[0, 1]); // input untouched
        var s = Symmetric.Symmetrized(k);
        Assert.Equal(1.0, s[0, 1]);
        Assert.Equal(1.0, s[1, 0]);
    }

    [Fact]
    public void RejectsNonSquareAndNonFinite()
    {
        Assert.Throws<NativeLayersException>(() => SymmetricEigen.Decompose(new Matrix(2, 3)));
        var m = Matrix.Identity(3);
        m[1, 1] = double.NaN;
        Assert.Throws<NativeLayersException>(() => SymmetricEigen.Decompose(m));
    }
}
