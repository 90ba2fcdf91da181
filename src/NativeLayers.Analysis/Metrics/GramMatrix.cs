using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// Gram matrices in float64 (§1 "smaller of the two Grams"): <c>Z Zᵀ</c> and <c>Zᵀ Z</c>, built from vectorised dot
/// products of tiles, in parallel when the work is large enough to pay for it. Results are exactly symmetric.
/// </summary>
public static class GramMatrix
{
    private const int Tile = 64;
    private const long ParallelWork = 1L << 21;

    /// <summary><c>Z Zᵀ</c> (Rows×Rows).</summary>
    public static Matrix Rows(Matrix z)
    {
        ArgumentNullException.ThrowIfNull(z);
        int n = z.Rows, d = z.Cols;
        var g = new Matrix(n, n);
        int tiles = (n + Tile - 1) / Tile;
        // Upper-triangular tile pairs (bi ≤ bj), each filled completely, then mirrored.
        var pairs = new List<(int, int)>(tiles * (tiles + 1) / 2);
        for (int bi = 0; bi < tiles; bi++) for (int bj = bi; bj < tiles; bj++) pairs.Add((bi, bj));
        void DoPair(int p)
        {
            var (bi, bj) = pairs[p];
            int i0 = bi * Tile, i1 = Math.Min(n, i0 + Tile), j0 = bj * Tile, j1 = Math.Min(n, j0 + Tile);
            var data = z.Data;
            var gd = g.Data;
            for (int i = i0; i < i1; i++)
            {
                var ri = new ReadOnlySpan<double>(data, i * d, d);
                for (int j = Math.Max(j0, i); j < j1; j++)
                {
                    double v = TensorPrimitives.Dot(ri, new ReadOnlySpan<double>(data, j * d, d));
                    gd[i * n + j] = v;
                    gd[j * n + i] = v;
                }
            }
        }
        if ((long)n * n * d / 2 >= ParallelWork && pairs.Count > 1) Parallel.For(0, pairs.Count, DoPair);
        else for (int p = 0; p < pairs.Count; p++) DoPair(p);
        return g;
    }

    /// <summary><c>Zᵀ Z</c> (Cols×Cols).</summary>
    public static Matrix Columns(Matrix z)
    {
        ArgumentNullException.ThrowIfNull(z);
        return Rows(z.Transpose());
    }

    /// <summary>The smaller of <c>Z Zᵀ</c> and <c>Zᵀ Z</c>; both have the same nonzero eigenvalues (§1).</summary>
    public static Matrix Smaller(Matrix z)
    {
        ArgumentNullException.ThrowIfNull(z);
        return z.Rows <= z.Cols ? Rows(z) : Columns(z);
    }

    /// <summary><c>A Bᵀ</c> (A.Rows×B.Rows) for equal column counts.</summary>
    public static Matrix Cross(Matrix a, Matrix b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Cols != b.Cols) throw new NativeLayers.Loading.NativeLayersException($"cannot form A Bᵀ of {a.Rows}×{a.Cols} and {b.Rows}×{b.Cols}.");
        int n = a.Rows, m = b.Rows, d = a.Cols;
        var g = new Matrix(n, m);
        void DoRow(int i)
        {
            var ri = new ReadOnlySpan<double>(a.Data, i * d, d);
            for (int j = 0; j < m; j++) g.Data[i * m + j] = TensorPrimitives.Dot(ri, new ReadOnlySpan<double>(b.Data, j * d, d));
        }
        if ((long)n * m * d >= ParallelWork) Parallel.For(0, n, DoRow);
        else for (int i = 0; i < n; i++) DoRow(i);
        return g;
    }
}
