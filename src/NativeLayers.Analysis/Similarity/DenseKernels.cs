using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NativeLayers.Analysis.Linalg;

namespace NativeLayers.Analysis.Similarity;

/// <summary>
/// The float64 products the similarity code spends its time in: <c>C = A Bᵀ</c> for row-major A (m×k) and B (n×k),
/// register-blocked (4×4 rows at a time, SIMD along k) and split over threads by row blocks. Both the Gram
/// <c>X Xᵀ</c> (n×n) and the cross-covariance <c>X_cᵀ Y_c</c> (through transposed copies) go through it.
/// </summary>
public static class DenseKernels
{
    private const int Block = 4;

    /// <summary><c>A Bᵀ</c> (A.Rows × B.Rows); both must have the same number of columns.</summary>
    public static Matrix TimesTranspose(Matrix a, Matrix b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Cols != b.Cols) throw new ArgumentException($"A Bᵀ needs equal widths, got {a.Cols} and {b.Cols}.");
        var c = new Matrix(a.Rows, b.Rows);
        Run(a.Data, a.Rows, b.Data, b.Rows, a.Cols, c.Data, symmetric: ReferenceEquals(a, b));
        return c;
    }

    /// <summary>The row Gram <c>A Aᵀ</c>, exactly symmetric.</summary>
    public static Matrix Gram(Matrix a) => TimesTranspose(a, a);

    /// <summary>The transpose as a new matrix (for <c>Xᵀ Y = TimesTranspose(Xᵀ, Yᵀ)</c>).</summary>
    public static Matrix Transpose(Matrix a)
    {
        var t = new Matrix(a.Cols, a.Rows);
        int n = a.Rows, d = a.Cols;
        const int tile = 32;
        for (int i0 = 0; i0 < n; i0 += tile)
            for (int j0 = 0; j0 < d; j0 += tile)
            {
                int i1 = Math.Min(n, i0 + tile), j1 = Math.Min(d, j0 + tile);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        t.Data[j * n + i] = a.Data[i * d + j];
            }
        return t;
    }

    /// <summary>C[i, j] = ⟨A_i, B_j⟩. With <paramref name="symmetric"/> (A is B) only the upper block triangle is computed, then mirrored.</summary>
    private static void Run(double[] a, int m, double[] b, int n, int k, double[] c, bool symmetric)
    {
        int blocksI = (m + Block - 1) / Block;
        int blocksJ = (n + Block - 1) / Block;
        // Interleave the row blocks so that the triangular work of a symmetric product spreads evenly over threads.
        Parallel.For(0, blocksI, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, bi =>
        {
            int i0 = bi * Block;
            for (int bj = symmetric ? bi : 0; bj < blocksJ; bj++)
            {
                int j0 = bj * Block;
                if (i0 + Block <= m && j0 + Block <= n) Tile4x4(a, i0, b, j0, k, c, n);
                else
                    for (int i = i0; i < Math.Min(m, i0 + Block); i++)
                        for (int j = j0; j < Math.Min(n, j0 + Block); j++)
                            c[i * n + j] = Dot(a.AsSpan(i * k, k), b.AsSpan(j * k, k));
            }
        });
        if (symmetric)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < i; j++)
                    c[i * n + j] = c[j * n + i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(double[] a, int i0, double[] b, int j0, int k, double[] c, int ldc)
    {
        var a0 = a.AsSpan(i0 * k, k); var a1 = a.AsSpan((i0 + 1) * k, k);
        var a2 = a.AsSpan((i0 + 2) * k, k); var a3 = a.AsSpan((i0 + 3) * k, k);
        var b0 = b.AsSpan(j0 * k, k); var b1 = b.AsSpan((j0 + 1) * k, k);
        var b2 = b.AsSpan((j0 + 2) * k, k); var b3 = b.AsSpan((j0 + 3) * k, k);
        int w = Vector<double>.Count;
        int vk = Vector.IsHardwareAccelerated ? k / w : 0;
        Vector<double> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector<double> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector<double> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector<double> s30 = default, s31 = default, s32 = default, s33 = default;
        var va0 = MemoryMarshal.Cast<double, Vector<double>>(a0); var va1 = MemoryMarshal.Cast<double, Vector<double>>(a1);
        var va2 = MemoryMarshal.Cast<double, Vector<double>>(a2); var va3 = MemoryMarshal.Cast<double, Vector<double>>(a3);
        var vb0 = MemoryMarshal.Cast<double, Vector<double>>(b0); var vb1 = MemoryMarshal.Cast<double, Vector<double>>(b1);
        var vb2 = MemoryMarshal.Cast<double, Vector<double>>(b2); var vb3 = MemoryMarshal.Cast<double, Vector<double>>(b3);
        for (int t = 0; t < vk; t++)
        {
            var x0 = va0[t]; var x1 = va1[t]; var x2 = va2[t]; var x3 = va3[t];
            var y0 = vb0[t]; var y1 = vb1[t]; var y2 = vb2[t]; var y3 = vb3[t];
            s00 = Vector.FusedMultiplyAdd(x0, y0, s00); s01 = Vector.FusedMultiplyAdd(x0, y1, s01);
            s02 = Vector.FusedMultiplyAdd(x0, y2, s02); s03 = Vector.FusedMultiplyAdd(x0, y3, s03);
            s10 = Vector.FusedMultiplyAdd(x1, y0, s10); s11 = Vector.FusedMultiplyAdd(x1, y1, s11);
            s12 = Vector.FusedMultiplyAdd(x1, y2, s12); s13 = Vector.FusedMultiplyAdd(x1, y3, s13);
            s20 = Vector.FusedMultiplyAdd(x2, y0, s20); s21 = Vector.FusedMultiplyAdd(x2, y1, s21);
            s22 = Vector.FusedMultiplyAdd(x2, y2, s22); s23 = Vector.FusedMultiplyAdd(x2, y3, s23);
            s30 = Vector.FusedMultiplyAdd(x3, y0, s30); s31 = Vector.FusedMultiplyAdd(x3, y1, s31);
            s32 = Vector.FusedMultiplyAdd(x3, y2, s32); s33 = Vector.FusedMultiplyAdd(x3, y3, s33);
        }
        Span<double> r = stackalloc double[16];
        r[0] = Vector.Sum(s00); r[1] = Vector.Sum(s01); r[2] = Vector.Sum(s02); r[3] = Vector.Sum(s03);
        r[4] = Vector.Sum(s10); r[5] = Vector.Sum(s11); r[6] = Vector.Sum(s12); r[7] = Vector.Sum(s13);
        r[8] = Vector.Sum(s20); r[9] = Vector.Sum(s21); r[10] = Vector.Sum(s22); r[11] = Vector.Sum(s23);
        r[12] = Vector.Sum(s30); r[13] = Vector.Sum(s31); r[14] = Vector.Sum(s32); r[15] = Vector.Sum(s33);
        for (int t = vk * w; t < k; t++)
        {
            double x0 = a0[t], x1 = a1[t], x2 = a2[t], x3 = a3[t];
            double y0 = b0[t], y1 = b1[t], y2 = b2[t], y3 = b3[t];
            r[0] += x0 * y0; r[1] += x0 * y1; r[2] += x0 * y2; r[3] += x0 * y3;
            r[4] += x1 * y0; r[5] += x1 * y1; r[6] += x1 * y2; r[7] += x1 * y3;
            r[8] += x2 * y0; r[9] += x2 * y1; r[10] += x2 * y2; r[11] += x2 * y3;
            r[12] += x3 * y0; r[13] += x3 * y1; r[14] += x3 * y2; r[15] += x3 * y3;
        }
        for (int i = 0; i < Block; i++)
            for (int j = 0; j < Block; j++)
                c[(i0 + i) * ldc + j0 + j] = r[i * Block + j];
    }

    private static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y) => System.Numerics.Tensors.TensorPrimitives.Dot(x, y);

    /// <summary>Σ_ij A_ij B_ij over two equally sized arrays (the Frobenius inner product), split over threads for large inputs.</summary>
    public static double FrobeniusDot(double[] a, double[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException("the two matrices differ in size.");
        const int chunk = 1 << 16;
        if (a.Length < 4 * chunk) return Dot(a, b);
        int parts = (a.Length + chunk - 1) / chunk;
        var partial = new double[parts];
        Parallel.For(0, parts, p =>
        {
            int start = p * chunk, len = Math.Min(chunk, a.Length - start);
            partial[p] = Dot(a.AsSpan(start, len), b.AsSpan(start, len));
        });
        double s = 0;
        foreach (double v in partial) s += v;
        return s;
    }
}
