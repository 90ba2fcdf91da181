using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests.Linalg;

public class ThinSvdAndCholeskyTests
{
    [Fact]
    public void SingularValues_E3()
    {
        var a = Matrix.FromRows([3, 0], [0, 1], [0, 0]);
        var svd = ThinSvd.Compute(a);
        Assert.Equal(2, svd.Rank);
        Assert.Equal(3, svd.SingularValues[0], 12);
        Assert.Equal(1, svd.SingularValues[1], 12);
    }

    [Theory]
    [InlineData(7, 40)]   // N < D: row Gram
    [InlineData(60, 9)]   // N > D: column Gram
    [InlineData(12, 12)]
    public void ReconstructsAndIsOrthonormal(int n, int d)
    {
        var a = SymmetricEigenTests.RandomMatrix(n, d, n * 100 + d);
        var svd = ThinSvd.Compute(a);
        Assert.Equal(Math.Min(n, d), svd.Rank);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++)
            {
                double x = 0;
                for (int k = 0; k < svd.Rank; k++) x += svd.U[i, k] * svd.SingularValues[k] * svd.V[j, k];
                Assert.Equal(a[i, j], x, 9);
            }
        foreach (var q in new[] { svd.U, svd.V })
        {
            var qtq = q.Transpose().Multiply(q);
            for (int i = 0; i < svd.Rank; i++)
                for (int j = 0; j < svd.Rank; j++)
                    Assert.Equal(i == j ? 1 : 0, qtq[i, j], 9);
        }
    }

    [Fact]
    public void RankDeficientAndTruncated()
    {
        // Rank 1: every row a multiple of (1, 2, 2).
        var a = Matrix.FromRows([1, 2, 2], [2, 4, 4], [-1, -2, -2], [0.5, 1, 1]);
        var svd = ThinSvd.Compute(a);
        Assert.Equal(1, svd.Rank);
        Assert.Equal(Math.Sqrt(1 + 4 + 1 + 0.25) * 3, svd.SingularValues[0], 12);
        var v = svd.RightVector(0);
        Assert.Equal(1.0 / 3, Math.Abs(v[0]), 12);
        Assert.Equal(1, ThinSvd.Compute(SymmetricEigenTests.RandomMatrix(5, 5, 3), maxComponents: 1).Rank);
        Assert.Equal(0, ThinSvd.Compute(new Matrix(3, 2)).Rank);
    }

    [Fact]
    public void CholeskySolvesSpdSystems()
    {
        var b = SymmetricEigenTests.RandomMatrix(30, 20, 9);
        var a = b.ColumnGram(); // 20×20 SPD (full column rank)
        for (int i = 0; i < 20; i++) a[i, i] += 0.1;
        var chol = Cholesky.Factor(a);
        var l = chol.L;
        var llt = l.Multiply(l.Transpose());
        for (int i = 0; i < 20; i++)
            for (int j = 0; j < 20; j++) Assert.Equal(a[i, j], llt[i, j], 10);

        var rhs = SymmetricEigenTests.RandomMatrix(20, 3, 10);
        var x = chol.Solve(rhs);
        var ax = a.Multiply(x);
        for (int i = 0; i < rhs.Data.Length; i++) Assert.Equal(rhs.Data[i], ax.Data[i], 10);

        var col = rhs.Column(1);
        var x1 = chol.Solve(col);
        for (int i = 0; i < 20; i++) Assert.Equal(x[i, 1], x1[i], 12);

        var eig = SymmetricEigen.Decompose(a).Values;
        Assert.Equal(eig.Sum(Math.Log), chol.LogDeterminant(), 8);
    }

    [Fact]
    public void CholeskyKnownAndRejectsIndefinite()
    {
        var a = Matrix.FromRows([4, 2], [2, 3]);
        var chol = Cholesky.Factor(a);
        Assert.Equal(2, chol.L[0, 0], 14);
        Assert.Equal(1, chol.L[1, 0], 14);
        Assert.Equal(Math.Sqrt(2), chol.L[1, 1], 14);
        Assert.Equal(0, chol.L[0, 1]);
        var x = chol.Solve([2.0, 1.0]);
        Assert.Equal(0.5, x[0], 14);
        Assert.Equal(0, x[1], 14);

        Assert.Throws<NativeLayersException>(() => Cholesky.Factor(Matrix.FromRows([1, 2], [2, 1])));
        Assert.Throws<NativeLayersException>(() => Cholesky.Factor(new Matrix(2, 2)));
        Assert.Throws<NativeLayersException>(() => Cholesky.Factor(new Matrix(2, 3)));
    }
}
