using NativeLayers.Loading;

namespace NativeLayers.Analysis.Linalg;

/// <summary>
/// Cholesky factorisation <c>A = L Lᵀ</c> of a symmetric positive-definite matrix, and solves with it (used by the
/// ridge fit of §14). The input is symmetrised on a copy; a non-positive pivot is a <see cref="NativeLayersException"/>.
/// </summary>
public sealed class Cholesky
{
    /// <summary>The lower-triangular factor (upper triangle zero).</summary>
    public Matrix L { get; }
    public int Size => L.Rows;

    private Cholesky(Matrix l) => L = l;

    public static Cholesky Factor(Matrix a)
    {
        Symmetric.RequireSquare(a, "Cholesky-factor");
        if (!a.IsFinite()) throw new NativeLayersException("cannot Cholesky-factor a matrix that contains NaN or infinity.");
        int n = a.Rows;
        var s = Symmetric.Symmetrized(a).Data;
        var l = new Matrix(n, n);
        var ld = l.Data;
        for (int j = 0; j < n; j++)
        {
            double diag = s[j * n + j];
            for (int k = 0; k < j; k++) diag -= ld[j * n + k] * ld[j * n + k];
            if (!(diag > 0))
                throw new NativeLayersException($"the matrix is not positive definite (pivot {j} is {diag:G6}); add a ridge term.");
            double ljj = Math.Sqrt(diag);
            ld[j * n + j] = ljj;
            for (int i = j + 1; i < n; i++)
            {
                double v = s[i * n + j];
                for (int k = 0; k < j; k++) v -= ld[i * n + k] * ld[j * n + k];
                ld[i * n + j] = v / ljj;
            }
        }
        return new Cholesky(l);
    }

    /// <summary>Solves <c>A x = b</c>.</summary>
    public double[] Solve(ReadOnlySpan<double> b)
    {
        int n = Size;
        if (b.Length != n) throw new NativeLayersException($"cannot solve a {n}×{n} system with a {b.Length}-vector.");
        var x = b.ToArray();
        SolveInPlace(x, 0, 1);
        return x;
    }

    /// <summary>Solves <c>A X = B</c> for every column of B (n×m).</summary>
    public Matrix Solve(Matrix b)
    {
        ArgumentNullException.ThrowIfNull(b);
        int n = Size;
        if (b.Rows != n) throw new NativeLayersException($"cannot solve a {n}×{n} system with a {b.Rows}×{b.Cols} right-hand side.");
        var x = b.Clone();
        for (int c = 0; c < b.Cols; c++) SolveInPlace(x.Data, c, b.Cols);
        return x;
    }

    /// <summary>ln det A = 2 Σ ln L_ii.</summary>
    public double LogDeterminant()
    {
        double s = 0;
        for (int i = 0; i < Size; i++) s += Math.Log(L.Data[i * Size + i]);
        return 2 * s;
    }

    /// <summary>Forward then back substitution on the strided column x[offset + i·stride].</summary>
    private void SolveInPlace(double[] x, int offset, int stride)
    {
        int n = Size;
        var l = L.Data;
        for (int i = 0; i < n; i++)
        {
            double v = x[offset + i * stride];
            for (int k = 0; k < i; k++) v -= l[i * n + k] * x[offset + k * stride];
            x[offset + i * stride] = v / l[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--)
        {
            double v = x[offset + i * stride];
            for (int k = i + 1; k < n; k++) v -= l[k * n + i] * x[offset + k * stride];
            x[offset + i * stride] = v / l[i * n + i];
        }
    }
}
