using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// Packs 16 weight rows at a time as columns of a GEMM panel (panel[k][c] = W[o0 + c, k]) through 16 × 16 register
/// transposes: every row is read once in order, widened as it is loaded, and no gather is needed. With few input
/// rows (one 128-token sequence) packing is paid per call for every weight, so its speed shows in the whole GEMM.
/// </summary>
internal static unsafe class PanelPacking
{
    /// <summary>Rows firstRow..firstRow + 15 (all inside the matrix) as the 16 panel columns from <paramref name="panel"/> on; false without AVX-512.</summary>
    public static bool TryPack16(WeightMatrix w, int firstRow, float* panel, int width)
    {
        if (!Simd.Use512 || !Avx512F.IsSupported) return false;
        switch (w.DType)
        {
            case DType.F32: Pack16<F32Weights>(w, firstRow, panel, width); return true;
            case DType.BF16: Pack16<Bf16Weights>(w, firstRow, panel, width); return true;
            case DType.F16: Pack16<F16Weights>(w, firstRow, panel, width); return true;
            default: return false;
        }
    }

    private static void Pack16<TW>(WeightMatrix w, int firstRow, float* panel, int width) where TW : struct, IWeightKind
    {
        int k = w.Cols, i = 0;
        byte* row0 = w.RowPointer(firstRow);
        long rowBytes = (long)k * TW.ElementSize;
        for (; i + 16 <= k; i += 16)
        {
            byte* p = row0;
            Store16(panel + (long)i * width, width,
                Load<TW>(p, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i),
                Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i),
                Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i),
                Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i), Load<TW>(p += rowBytes, i));
        }
        for (; i < k; i++)
            for (int c = 0; c < 16; c++) panel[(long)i * width + c] = TW.LoadScalar(row0 + c * rowBytes, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load<TW>(byte* row, int index) where TW : struct, IWeightKind => TW.Load<Simd512, Vector512<float>>(row, index);

    /// <summary>target[j][0..16) = source[0..16)[j]: a 16 × 16 block of rows (each <paramref name="sourceStride"/> apart) stored as columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose16(float* source, long sourceStride, float* target, long targetStride)
    {
        float* p = source;
        Store16(target, targetStride,
            Vector512.Load(p), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride),
            Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride),
            Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride),
            Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride), Vector512.Load(p += sourceStride));
    }

    /// <summary>target[j * stride + r] = r_r[j]: rows in, columns out (unpack pairs, then pairs of pairs, then 128-bit lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store16(float* target, long stride,
        Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3, Vector512<float> r4, Vector512<float> r5,
        Vector512<float> r6, Vector512<float> r7, Vector512<float> r8, Vector512<float> r9, Vector512<float> r10, Vector512<float> r11,
        Vector512<float> r12, Vector512<float> r13, Vector512<float> r14, Vector512<float> r15)
    {
        // Within each 128-bit lane, for rows a..d: t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, then u0 = a0 b0 c0 d0 ... u3 = a3 b3 c3 d3.
        var (u0, u1, u2, u3) = Quads(r0, r1, r2, r3);
        var (u4, u5, u6, u7) = Quads(r4, r5, r6, r7);
        var (u8, u9, u10, u11) = Quads(r8, r9, r10, r11);
        var (u12, u13, u14, u15) = Quads(r12, r13, r14, r15);
        // u_m of row group g holds columns m, 4 + m, 8 + m, 12 + m in its lanes 0..3: gather lane L of the four groups.
        Columns(target, stride, 0, u0, u4, u8, u12);
        Columns(target, stride, 1, u1, u5, u9, u13);
        Columns(target, stride, 2, u2, u6, u10, u14);
        Columns(target, stride, 3, u3, u7, u11, u15);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Quads(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        var t0 = Avx512F.UnpackLow(a, b).AsDouble();
        var t1 = Avx512F.UnpackHigh(a, b).AsDouble();
        var t2 = Avx512F.UnpackLow(c, d).AsDouble();
        var t3 = Avx512F.UnpackHigh(c, d).AsDouble();
        return (Avx512F.UnpackLow(t0, t2).AsSingle(), Avx512F.UnpackHigh(t0, t2).AsSingle(),
            Avx512F.UnpackLow(t1, t3).AsSingle(), Avx512F.UnpackHigh(t1, t3).AsSingle());
    }

    /// <summary>Columns m, 4 + m, 8 + m and 12 + m from the four row groups' u_m.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(float* target, long stride, int m, Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3)
    {
        const byte Even = 0b10_00_10_00, Odd = 0b11_01_11_01;
        var evenLow = Avx512F.Shuffle4x128(g0, g1, Even);   // lanes 0, 2 of g0, then of g1
        var oddLow = Avx512F.Shuffle4x128(g0, g1, Odd);     // lanes 1, 3
        var evenHigh = Avx512F.Shuffle4x128(g2, g3, Even);
        var oddHigh = Avx512F.Shuffle4x128(g2, g3, Odd);
        Avx512F.Shuffle4x128(evenLow, evenHigh, Even).Store(target + m * stride);
        Avx512F.Shuffle4x128(oddLow, oddHigh, Even).Store(target + (4 + m) * stride);
        Avx512F.Shuffle4x128(evenLow, evenHigh, Odd).Store(target + (8 + m) * stride);
        Avx512F.Shuffle4x128(oddLow, oddHigh, Odd).Store(target + (12 + m) * stride);
    }
}
