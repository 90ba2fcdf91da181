using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// Attention for a block of one head's queries at once (prefill, encoders): the block's keys are transposed to
/// [headDim][keys] so that the scores are a broadcast micro-kernel with no horizontal sums, each row is masked and
/// softmaxed, and the weighted values accumulate in registers over the keys. Same masking as <see cref="Attention"/>.
/// </summary>
internal static unsafe class QueryBlockAttention
{
    public const int MaxQueries = 64;
    private const int TileRows = 6;
    private const int TileVectors = 2;

    /// <summary>Head dims the value kernel covers: whole 2-vector chunks.</summary>
    public static bool Fits(int headDim, int lanes) => headDim % (TileVectors * lanes) == 0;

    [ThreadStatic] private static float* t_scratch;
    [ThreadStatic] private static long t_scratchLength;

    public static void Run<TOps, TV>(in AttentionSequence seq, int head, int t0, int queries, float* q, int qStride, float* output, int outStride, in AttentionShape shape)
        where TOps : struct, ISimdOps<TV> where TV : struct
    {
        int d = shape.HeadDim, stride = seq.Stride(shape);
        int first = seq.FirstKey(shape, t0), count = seq.LastKey(shape, t0 + queries - 1) - first + 1;
        int padded = (count + TileVectors * TOps.Lanes - 1) / (TileVectors * TOps.Lanes) * (TileVectors * TOps.Lanes);
        float* transposed = Scratch((long)padded * (d + queries));
        float* scores = transposed + (long)padded * d;
        int kvOffset = head / shape.GroupSize * d;
        float* keys = seq.Keys + (long)first * stride + kvOffset;
        float* values = seq.Values + (long)first * stride + kvOffset;

        Transpose(keys, stride, count, d, transposed, padded);
        Scores<TOps, TV>(q + (long)(seq.FirstRow + t0) * qStride + head * d, qStride, queries, transposed, d, padded, scores);
        for (int r = 0; r < queries; r++)
        {
            var row = new Span<float>(scores + (long)r * padded, padded);
            int lo = seq.FirstKey(shape, t0 + r) - first, hi = seq.LastKey(shape, t0 + r) - first;
            var seen = row[lo..(hi + 1)];
            if (shape.SoftCap > 0)
            {
                TensorPrimitives.Multiply(seen, shape.Scale, seen);
                HostMath.SoftCap(seen, shape.SoftCap);
                Sampling.Softmax(seen);
            }
            else ScaledSoftmax(seen, shape.Scale);
            row[..lo].Clear();
            row[(hi + 1)..].Clear();
        }
        WeightedValues<TOps, TV>(scores, padded, queries, count, values, stride, d, output + (long)(seq.FirstRow + t0) * outStride + head * d, outStride);
    }

    private static float* Scratch(long floats)
    {
        if (t_scratchLength < floats)
        {
            if (t_scratch != null) NativeMemory.AlignedFree(t_scratch);
            t_scratch = (float*)NativeMemory.AlignedAlloc((nuint)(floats * 4), 64);
            t_scratchLength = floats;
        }
        return t_scratch;
    }

    /// <summary>row = softmax(scale · row) in three passes (max, exp and sum, divide) for a positive scale.</summary>
    private static void ScaledSoftmax(Span<float> row, float scale)
    {
        float shift = scale * TensorPrimitives.Max(row), sum = 0;
        ref float start = ref MemoryMarshal.GetReference(row);
        int i = 0;
        if (Simd.Use512)
        {
            var total = Vector512<float>.Zero;
            for (; i + 16 <= row.Length; i += 16)
            {
                var e = Vector512.Exp(Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref start, (nuint)i), Vector512.Create(scale), Vector512.Create(-shift)));
                e.StoreUnsafe(ref start, (nuint)i);
                total += e;
            }
            sum = Vector512.Sum(total);
        }
        var partial = Vector256<float>.Zero;
        for (; i + 8 <= row.Length; i += 8)
        {
            var e = Vector256.Exp(Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref start, (nuint)i), Vector256.Create(scale), Vector256.Create(-shift)));
            e.StoreUnsafe(ref start, (nuint)i);
            partial += e;
        }
        sum += Vector256.Sum(partial);
        for (; i < row.Length; i++) sum += row[i] = MathF.Exp(row[i] * scale - shift);
        TensorPrimitives.Multiply(row, 1 / sum, row);
    }

    /// <summary>target[i][j] = keys[j][i] for j below count, zero up to padded.</summary>
    private static void Transpose(float* keys, int stride, int count, int d, float* target, int padded)
    {
        int j0 = 0;
        if (Simd.Use512 && d % 16 == 0 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            for (; j0 + 16 <= count; j0 += 16)
                for (int i0 = 0; i0 < d; i0 += 16)
                    PanelPacking.Transpose16(keys + (long)j0 * stride + i0, stride, target + (long)i0 * padded + j0, padded);
        for (int j = j0; j < count; j++)
        {
            float* key = keys + (long)j * stride;
            for (int i = 0; i < d; i++) target[(long)i * padded + j] = key[i];
        }
        for (int i = 0; i < d; i++) new Span<float>(target + (long)i * padded + count, padded - count).Clear();
    }

    /// <summary>scores[r][j] = q_r · k_j for every query row and padded key, 6 rows × 2 vectors of keys per tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores<TOps, TV>(float* query, int qStride, int queries, float* transposed, int d, int padded, float* scores)
        where TOps : struct, ISimdOps<TV> where TV : struct
    {
        int lanes = TOps.Lanes;
        for (int r0 = 0; r0 < queries; r0 += TileRows)
        {
            int valid = Math.Min(TileRows, queries - r0);
            float* q0 = query + (long)r0 * qStride;
            float* q1 = q0 + Math.Min(1, valid - 1) * (long)qStride, q2 = q0 + Math.Min(2, valid - 1) * (long)qStride;
            float* q3 = q0 + Math.Min(3, valid - 1) * (long)qStride, q4 = q0 + Math.Min(4, valid - 1) * (long)qStride, q5 = q0 + Math.Min(5, valid - 1) * (long)qStride;
            for (int c = 0; c < padded; c += 2 * lanes)
            {
                TV s00 = TOps.Zero, s01 = TOps.Zero, s10 = TOps.Zero, s11 = TOps.Zero, s20 = TOps.Zero, s21 = TOps.Zero;
                TV s30 = TOps.Zero, s31 = TOps.Zero, s40 = TOps.Zero, s41 = TOps.Zero, s50 = TOps.Zero, s51 = TOps.Zero;
                float* k = transposed + c;
                for (int i = 0; i < d; i++, k += padded)
                {
                    TV k0 = TOps.Load(k), k1 = TOps.Load(k + lanes);
                    TV a = TOps.Broadcast(q0[i]); s00 = TOps.Fma(a, k0, s00); s01 = TOps.Fma(a, k1, s01);
                    a = TOps.Broadcast(q1[i]); s10 = TOps.Fma(a, k0, s10); s11 = TOps.Fma(a, k1, s11);
                    a = TOps.Broadcast(q2[i]); s20 = TOps.Fma(a, k0, s20); s21 = TOps.Fma(a, k1, s21);
                    a = TOps.Broadcast(q3[i]); s30 = TOps.Fma(a, k0, s30); s31 = TOps.Fma(a, k1, s31);
                    a = TOps.Broadcast(q4[i]); s40 = TOps.Fma(a, k0, s40); s41 = TOps.Fma(a, k1, s41);
                    a = TOps.Broadcast(q5[i]); s50 = TOps.Fma(a, k0, s50); s51 = TOps.Fma(a, k1, s51);
                }
                float* row = scores + (long)r0 * padded + c;
                StorePair<TOps, TV>(row, lanes, s00, s01);
                if (valid > 1) StorePair<TOps, TV>(row + padded, lanes, s10, s11);
                if (valid > 2) StorePair<TOps, TV>(row + 2L * padded, lanes, s20, s21);
                if (valid > 3) StorePair<TOps, TV>(row + 3L * padded, lanes, s30, s31);
                if (valid > 4) StorePair<TOps, TV>(row + 4L * padded, lanes, s40, s41);
                if (valid > 5) StorePair<TOps, TV>(row + 5L * padded, lanes, s50, s51);
            }
        }
    }

    /// <summary>output[r] = Σ_j weights[r][j] · v_j over the block's keys, 6 rows × 2 vectors of head dims per tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightedValues<TOps, TV>(float* weights, int padded, int queries, int count, float* values, int stride, int d, float* output, int outStride)
        where TOps : struct, ISimdOps<TV> where TV : struct
    {
        int lanes = TOps.Lanes;
        for (int r0 = 0; r0 < queries; r0 += TileRows)
        {
            int valid = Math.Min(TileRows, queries - r0);
            float* p0 = weights + (long)r0 * padded;
            float* p1 = p0 + Math.Min(1, valid - 1) * (long)padded, p2 = p0 + Math.Min(2, valid - 1) * (long)padded;
            float* p3 = p0 + Math.Min(3, valid - 1) * (long)padded, p4 = p0 + Math.Min(4, valid - 1) * (long)padded, p5 = p0 + Math.Min(5, valid - 1) * (long)padded;
            for (int c = 0; c < d; c += 2 * lanes)
            {
                TV o00 = TOps.Zero, o01 = TOps.Zero, o10 = TOps.Zero, o11 = TOps.Zero, o20 = TOps.Zero, o21 = TOps.Zero;
                TV o30 = TOps.Zero, o31 = TOps.Zero, o40 = TOps.Zero, o41 = TOps.Zero, o50 = TOps.Zero, o51 = TOps.Zero;
                float* v = values + c;
                for (int j = 0; j < count; j++, v += stride)
                {
                    TV v0 = TOps.Load(v), v1 = TOps.Load(v + lanes);
                    TV a = TOps.Broadcast(p0[j]); o00 = TOps.Fma(a, v0, o00); o01 = TOps.Fma(a, v1, o01);
                    a = TOps.Broadcast(p1[j]); o10 = TOps.Fma(a, v0, o10); o11 = TOps.Fma(a, v1, o11);
                    a = TOps.Broadcast(p2[j]); o20 = TOps.Fma(a, v0, o20); o21 = TOps.Fma(a, v1, o21);
                    a = TOps.Broadcast(p3[j]); o30 = TOps.Fma(a, v0, o30); o31 = TOps.Fma(a, v1, o31);
                    a = TOps.Broadcast(p4[j]); o40 = TOps.Fma(a, v0, o40); o41 = TOps.Fma(a, v1, o41);
                    a = TOps.Broadcast(p5[j]); o50 = TOps.Fma(a, v0, o50); o51 = TOps.Fma(a, v1, o51);
                }
                float* row = output + (long)r0 * outStride + c;
                StorePair<TOps, TV>(row, lanes, o00, o01);
                if (valid > 1) StorePair<TOps, TV>(row + outStride, lanes, o10, o11);
                if (valid > 2) StorePair<TOps, TV>(row + 2L * outStride, lanes, o20, o21);
                if (valid > 3) StorePair<TOps, TV>(row + 3L * outStride, lanes, o30, o31);
                if (valid > 4) StorePair<TOps, TV>(row + 4L * outStride, lanes, o40, o41);
                if (valid > 5) StorePair<TOps, TV>(row + 5L * outStride, lanes, o50, o51);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePair<TOps, TV>(float* p, int lanes, TV a, TV b) where TOps : struct, ISimdOps<TV> where TV : struct
    {
        TOps.Store(p, a);
        TOps.Store(p + lanes, b);
    }
}
