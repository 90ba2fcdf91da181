using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// y[t, o] = sum_k x[t, k] · W[o, k] (+ bias[o]) (+ y[t, o] when accumulating): every linear layer of the model.
/// Work is split over blocks of output rows, so each weight row is read from memory once per call. Half-precision
/// weights are widened in registers for small batches (decode) and once per block into a float32 scratch for
/// large ones (prefill), so no float32 copy of the model ever exists.
/// </summary>
public static unsafe class MatMul
{
    /// <summary>Batches at least this large convert each weight block once instead of once per 4 tokens.</summary>
    private const int ConvertBlockMinRows = 8;

    public static void Run(WorkerPool pool, float* x, int xStride, int rows, WeightMatrix w, float* bias,
        float* y, int yStride, bool accumulate = false)
    {
        if (rows == 0 || w.Rows == 0) return;
        if (Simd.Use512) Dispatch<Simd512, Vector512<float>>(pool, x, xStride, rows, w, bias, y, yStride, accumulate);
        else Dispatch<Simd256, Vector256<float>>(pool, x, xStride, rows, w, bias, y, yStride, accumulate);
    }

    private static void Dispatch<TOps, TV>(WorkerPool pool, float* x, int xStride, int rows, WeightMatrix w, float* bias,
        float* y, int yStride, bool accumulate) where TOps : struct, ISimdOps<TV> where TV : struct
    {
        var job = new Job(x, xStride, rows, w, bias, y, yStride, accumulate, ChunkRows(w.Rows, rows, pool.Threads));
        int parts = (w.Rows + job.Chunk - 1) / job.Chunk;
        bool convert = w.DType != DType.F32 && rows >= ConvertBlockMinRows;
        Action<int> body = (w.DType, convert) switch
        {
            (DType.F32, _) => part => RunChunk<TOps, TV, F32Weights>(job, part, convert: false),
            (DType.BF16, false) => part => RunChunk<TOps, TV, Bf16Weights>(job, part, convert: false),
            (DType.F16, false) => part => RunChunk<TOps, TV, F16Weights>(job, part, convert: false),
            _ => part => RunChunk<TOps, TV, F32Weights>(job, part, convert: true),
        };
        pool.For(parts, body);
    }

    private static int ChunkRows(int outRows, int rows, int threads)
    {
        // Enough parts for load balancing, few enough that per-part overhead stays small; multiples of 4.
        int target = Math.Max(1, threads * (rows >= ConvertBlockMinRows ? 4 : 8));
        int chunk = (outRows + target - 1) / target;
        chunk = (chunk + 3) & ~3;
        return Math.Clamp(chunk, 4, rows >= ConvertBlockMinRows ? 64 : 256);
    }

    private readonly struct Job(float* x, int xStride, int rows, WeightMatrix w, float* bias, float* y, int yStride, bool accumulate, int chunk)
    {
        public readonly float* X = x;
        public readonly int XStride = xStride;
        public readonly int Rows = rows;
        public readonly WeightMatrix W = w;
        public readonly float* Bias = bias;
        public readonly float* Y = y;
        public readonly int YStride = yStride;
        public readonly bool Accumulate = accumulate;
        public readonly int Chunk = chunk;
    }

    [ThreadStatic] private static float* t_scratch;
    [ThreadStatic] private static long t_scratchLength;

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

    private static void RunChunk<TOps, TV, TW>(Job job, int part, bool convert)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        int o0 = part * job.Chunk;
        int count = Math.Min(job.Chunk, job.W.Rows - o0);
        int k = job.W.Cols;
        byte* w;
        long wStride;
        if (convert)
        {
            float* scratch = Scratch((long)count * k);
            WeightConversion.ToFloat32(job.W.RowPointer(o0), job.W.DType, scratch, count * k);
            w = (byte*)scratch;
            wStride = (long)k * 4;
        }
        else
        {
            w = job.W.RowPointer(o0);
            wStride = (long)k * TW.ElementSize;
        }

        Span<float> sums = stackalloc float[16];
        int t = 0;
        for (; t + 4 <= job.Rows; t += 4)
        {
            float* x = job.X + (long)t * job.XStride;
            int o = 0;
            for (; o + 4 <= count; o += 4)
            {
                Tile4x4<TOps, TV, TW>(x, job.XStride, w + o * wStride, wStride, k, sums);
                Store(job, t, 4, o0 + o, 4, sums);
            }
            for (; o < count; o++)
                for (int r = 0; r < 4; r++)
                {
                    sums[0] = Dot<TOps, TV, TW>(x + (long)r * job.XStride, w + o * wStride, k);
                    Store(job, t + r, 1, o0 + o, 1, sums);
                }
        }
        for (; t < job.Rows; t++)
        {
            float* x = job.X + (long)t * job.XStride;
            int o = 0;
            for (; o + 4 <= count; o += 4)
            {
                Tile1x4<TOps, TV, TW>(x, w + o * wStride, wStride, k, sums);
                Store(job, t, 1, o0 + o, 4, sums);
            }
            for (; o < count; o++)
            {
                sums[0] = Dot<TOps, TV, TW>(x, w + o * wStride, k);
                Store(job, t, 1, o0 + o, 1, sums);
            }
        }
    }

    /// <summary>Writes a tile of sums laid out [tRows][oCols] (row stride oCols) to y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(in Job job, int t, int tRows, int o, int oCols, Span<float> sums)
    {
        for (int r = 0; r < tRows; r++)
        {
            float* y = job.Y + (long)(t + r) * job.YStride + o;
            for (int c = 0; c < oCols; c++)
            {
                float v = sums[r * oCols + c];
                if (job.Bias != null) v += job.Bias[o + c];
                y[c] = job.Accumulate ? y[c] + v : v;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4<TOps, TV, TW>(float* x, int xStride, byte* w, long wStride, int k, Span<float> sums)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        float* x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        byte* w0 = w, w1 = w + wStride, w2 = w + 2 * wStride, w3 = w + 3 * wStride;
        TV a00 = TOps.Zero, a01 = TOps.Zero, a02 = TOps.Zero, a03 = TOps.Zero;
        TV a10 = TOps.Zero, a11 = TOps.Zero, a12 = TOps.Zero, a13 = TOps.Zero;
        TV a20 = TOps.Zero, a21 = TOps.Zero, a22 = TOps.Zero, a23 = TOps.Zero;
        TV a30 = TOps.Zero, a31 = TOps.Zero, a32 = TOps.Zero, a33 = TOps.Zero;
        int lanes = TOps.Lanes, i = 0;
        for (; i + lanes <= k; i += lanes)
        {
            TV v0 = TOps.Load(x0 + i), v1 = TOps.Load(x1 + i), v2 = TOps.Load(x2 + i), v3 = TOps.Load(x3 + i);
            TV b = TW.Load<TOps, TV>(w0, i);
            a00 = TOps.Fma(v0, b, a00); a10 = TOps.Fma(v1, b, a10); a20 = TOps.Fma(v2, b, a20); a30 = TOps.Fma(v3, b, a30);
            b = TW.Load<TOps, TV>(w1, i);
            a01 = TOps.Fma(v0, b, a01); a11 = TOps.Fma(v1, b, a11); a21 = TOps.Fma(v2, b, a21); a31 = TOps.Fma(v3, b, a31);
            b = TW.Load<TOps, TV>(w2, i);
            a02 = TOps.Fma(v0, b, a02); a12 = TOps.Fma(v1, b, a12); a22 = TOps.Fma(v2, b, a22); a32 = TOps.Fma(v3, b, a32);
            b = TW.Load<TOps, TV>(w3, i);
            a03 = TOps.Fma(v0, b, a03); a13 = TOps.Fma(v1, b, a13); a23 = TOps.Fma(v2, b, a23); a33 = TOps.Fma(v3, b, a33);
        }
        sums[0] = TOps.Sum(a00); sums[1] = TOps.Sum(a01); sums[2] = TOps.Sum(a02); sums[3] = TOps.Sum(a03);
        sums[4] = TOps.Sum(a10); sums[5] = TOps.Sum(a11); sums[6] = TOps.Sum(a12); sums[7] = TOps.Sum(a13);
        sums[8] = TOps.Sum(a20); sums[9] = TOps.Sum(a21); sums[10] = TOps.Sum(a22); sums[11] = TOps.Sum(a23);
        sums[12] = TOps.Sum(a30); sums[13] = TOps.Sum(a31); sums[14] = TOps.Sum(a32); sums[15] = TOps.Sum(a33);
        for (; i < k; i++)
        {
            float c0 = TW.LoadScalar(w0, i), c1 = TW.LoadScalar(w1, i), c2 = TW.LoadScalar(w2, i), c3 = TW.LoadScalar(w3, i);
            float* xs = x + i;
            for (int r = 0; r < 4; r++, xs += xStride)
            {
                sums[r * 4] += *xs * c0; sums[r * 4 + 1] += *xs * c1; sums[r * 4 + 2] += *xs * c2; sums[r * 4 + 3] += *xs * c3;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x4<TOps, TV, TW>(float* x, byte* w, long wStride, int k, Span<float> sums)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        byte* w0 = w, w1 = w + wStride, w2 = w + 2 * wStride, w3 = w + 3 * wStride;
        TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
        TV b0 = TOps.Zero, b1 = TOps.Zero, b2 = TOps.Zero, b3 = TOps.Zero;
        int lanes = TOps.Lanes, i = 0;
        for (; i + 2 * lanes <= k; i += 2 * lanes)
        {
            TV v = TOps.Load(x + i), u = TOps.Load(x + i + lanes);
            a0 = TOps.Fma(v, TW.Load<TOps, TV>(w0, i), a0);
            a1 = TOps.Fma(v, TW.Load<TOps, TV>(w1, i), a1);
            a2 = TOps.Fma(v, TW.Load<TOps, TV>(w2, i), a2);
            a3 = TOps.Fma(v, TW.Load<TOps, TV>(w3, i), a3);
            b0 = TOps.Fma(u, TW.Load<TOps, TV>(w0, i + lanes), b0);
            b1 = TOps.Fma(u, TW.Load<TOps, TV>(w1, i + lanes), b1);
            b2 = TOps.Fma(u, TW.Load<TOps, TV>(w2, i + lanes), b2);
            b3 = TOps.Fma(u, TW.Load<TOps, TV>(w3, i + lanes), b3);
        }
        for (; i + lanes <= k; i += lanes)
        {
            TV v = TOps.Load(x + i);
            a0 = TOps.Fma(v, TW.Load<TOps, TV>(w0, i), a0);
            a1 = TOps.Fma(v, TW.Load<TOps, TV>(w1, i), a1);
            a2 = TOps.Fma(v, TW.Load<TOps, TV>(w2, i), a2);
            a3 = TOps.Fma(v, TW.Load<TOps, TV>(w3, i), a3);
        }
        sums[0] = TOps.Sum(TOps.Add(a0, b0)); sums[1] = TOps.Sum(TOps.Add(a1, b1));
        sums[2] = TOps.Sum(TOps.Add(a2, b2)); sums[3] = TOps.Sum(TOps.Add(a3, b3));
        for (; i < k; i++)
        {
            sums[0] += x[i] * TW.LoadScalar(w0, i); sums[1] += x[i] * TW.LoadScalar(w1, i);
            sums[2] += x[i] * TW.LoadScalar(w2, i); sums[3] += x[i] * TW.LoadScalar(w3, i);
        }
    }

    private static float Dot<TOps, TV, TW>(float* x, byte* w, int k)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        TV acc = TOps.Zero;
        int i = 0;
        for (; i + TOps.Lanes <= k; i += TOps.Lanes) acc = TOps.Fma(TOps.Load(x + i), TW.Load<TOps, TV>(w, i), acc);
        float sum = TOps.Sum(acc);
        for (; i < k; i++) sum += x[i] * TW.LoadScalar(w, i);
        return sum;
    }
}
