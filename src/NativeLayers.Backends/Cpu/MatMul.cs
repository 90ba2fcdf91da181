using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// y[t, o] = sum_k x[t, k] · W[o, k] (+ bias[o]) (+ y[t, o] when accumulating): every linear layer of the model.
/// Two paths, both reading each weight once per call and never keeping a float32 copy of half-precision weights:
/// <list type="bullet">
/// <item>few rows (decode): output rows are split into contiguous chunks; each thread streams its chunk row by row
/// (one sequential read, software-prefetched), widening F16/BF16 in registers;</item>
/// <item>many rows (prefill): each thread packs a panel of 2 vectors' worth of output features, widened to float32,
/// as [k][panel] and runs a 6-row broadcast micro-kernel over every input row (12 accumulators, no horizontal sums).</item>
/// </list>
/// </summary>
public static unsafe class MatMul
{
    /// <summary>Below this many input rows the weight stream dominates and the mat-vec path wins.</summary>
    internal const int GemmMinRows = 16;
    private const int MicroRows = 6;
    private const int PrefetchBytes = 1024;

    public static void Run(WorkerPool pool, float* x, int xStride, int rows, WeightMatrix w, float* bias,
        float* y, int yStride, bool accumulate = false)
    {
        if (rows == 0 || w.Rows == 0) return;
        if (Simd.Use512) Dispatch<Simd512, Vector512<float>>(pool, x, xStride, rows, w, bias, y, yStride, accumulate);
        else Dispatch<Simd256, Vector256<float>>(pool, x, xStride, rows, w, bias, y, yStride, accumulate);
    }

    private readonly struct Job(float* x, int xStride, int rows, WeightMatrix w, float* bias, float* y, int yStride, bool accumulate, int rowsPerPart)
    {
        public readonly float* X = x;
        public readonly int XStride = xStride;
        public readonly int Rows = rows;
        public readonly WeightMatrix W = w;
        public readonly float* Bias = bias;
        public readonly float* Y = y;
        public readonly int YStride = yStride;
        public readonly bool Accumulate = accumulate;
        /// <summary>Output rows per parallel part: a contiguous chunk (mat-vec) or one packed panel (GEMM).</summary>
        public readonly int RowsPerPart = rowsPerPart;
    }

    private static void Dispatch<TOps, TV>(WorkerPool pool, float* x, int xStride, int rows, WeightMatrix w, float* bias,
        float* y, int yStride, bool accumulate) where TOps : struct, ISimdOps<TV> where TV : struct
    {
        if (rows >= GemmMinRows)
        {
            int panel = 2 * TOps.Lanes;
            var job = new Job(x, xStride, rows, w, bias, y, yStride, accumulate, panel);
            pool.For((w.Rows + panel - 1) / panel, part => GemmPanel<TOps, TV>(job, part));
            return;
        }
        // Contiguous chunks (one sequential stream per part), enough of them to balance two or more threads.
        int chunk = Math.Max(16, (w.Rows + pool.Threads * 4 - 1) / (pool.Threads * 4));
        var vec = new Job(x, xStride, rows, w, bias, y, yStride, accumulate, chunk);
        int parts = (w.Rows + chunk - 1) / chunk;
        Action<int> body = w.DType switch
        {
            DType.F32 => part => MatVecChunk<TOps, TV, F32Weights>(vec, part),
            DType.BF16 => part => MatVecChunk<TOps, TV, Bf16Weights>(vec, part),
            _ => part => MatVecChunk<TOps, TV, F16Weights>(vec, part),
        };
        pool.For(parts, body);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(in Job job, int t, int o, float sum)
    {
        if (job.Bias != null) sum += job.Bias[o];
        float* target = job.Y + (long)t * job.YStride + o;
        *target = job.Accumulate ? *target + sum : sum;
    }

    // ---------------------------------------------------------------- decode: mat-vec over contiguous rows

    private static void MatVecChunk<TOps, TV, TW>(Job job, int part)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        int first = part * job.RowsPerPart, end = Math.Min(job.W.Rows, first + job.RowsPerPart), k = job.W.Cols;
        if (job.Rows == 1)
        {
            for (int o = first; o < end; o++) Finish(job, 0, o, RowDot<TOps, TV, TW>(job.X, job.W.RowPointer(o), k, prefetch: true));
            return;
        }
        // Small batches: each weight vector is loaded (and widened) once for 2 output rows × 4 tokens.
        float* sums = stackalloc float[8];
        for (int o = first; o < end; o += 2)
        {
            byte* w0 = job.W.RowPointer(o), w1 = o + 1 < end ? job.W.RowPointer(o + 1) : w0;
            for (int t = 0; t < job.Rows; t += 4)
            {
                int valid = Math.Min(4, job.Rows - t);
                float* x0 = job.X + (long)t * job.XStride;
                Dot2x4<TOps, TV, TW>(x0, job.XStride, valid, w0, w1, k, sums, prefetch: t == 0);
                for (int r = 0; r < valid; r++)
                {
                    Finish(job, t + r, o, sums[r]);
                    if (o + 1 < end) Finish(job, t + r, o + 1, sums[4 + r]);
                }
            }
        }
    }

    /// <summary>sums[r] = x_r · w0, sums[4 + r] = x_r · w1 for 4 rows of x (rows past <paramref name="valid"/> repeat the last).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot2x4<TOps, TV, TW>(float* x, long stride, int valid, byte* w0, byte* w1, int k, float* sums, bool prefetch)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        float* x0 = x, x1 = x + Math.Min(1, valid - 1) * stride, x2 = x + Math.Min(2, valid - 1) * stride, x3 = x + Math.Min(3, valid - 1) * stride;
        int lanes = TOps.Lanes, i = 0;
        TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero, b0 = TOps.Zero, b1 = TOps.Zero, b2 = TOps.Zero, b3 = TOps.Zero;
        for (; i + lanes <= k; i += lanes)
        {
            if (prefetch && Sse.IsSupported && (i * TW.ElementSize & 63) == 0)
            {
                Sse.Prefetch0(w0 + (long)i * TW.ElementSize + PrefetchBytes);
                Sse.Prefetch0(w1 + (long)i * TW.ElementSize + PrefetchBytes);
            }
            TV p = TW.Load<TOps, TV>(w0, i), q = TW.Load<TOps, TV>(w1, i);
            TV v = TOps.Load(x0 + i); a0 = TOps.Fma(v, p, a0); b0 = TOps.Fma(v, q, b0);
            v = TOps.Load(x1 + i); a1 = TOps.Fma(v, p, a1); b1 = TOps.Fma(v, q, b1);
            v = TOps.Load(x2 + i); a2 = TOps.Fma(v, p, a2); b2 = TOps.Fma(v, q, b2);
            v = TOps.Load(x3 + i); a3 = TOps.Fma(v, p, a3); b3 = TOps.Fma(v, q, b3);
        }
        sums[0] = TOps.Sum(a0); sums[1] = TOps.Sum(a1); sums[2] = TOps.Sum(a2); sums[3] = TOps.Sum(a3);
        sums[4] = TOps.Sum(b0); sums[5] = TOps.Sum(b1); sums[6] = TOps.Sum(b2); sums[7] = TOps.Sum(b3);
        for (; i < k; i++)
        {
            float p = TW.LoadScalar(w0, i), q = TW.LoadScalar(w1, i);
            sums[0] += x0[i] * p; sums[1] += x1[i] * p; sums[2] += x2[i] * p; sums[3] += x3[i] * p;
            sums[4] += x0[i] * q; sums[5] += x1[i] * q; sums[6] += x2[i] * q; sums[7] += x3[i] * q;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float RowDot<TOps, TV, TW>(float* x, byte* w, int k, bool prefetch)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        int lanes = TOps.Lanes, step = 4 * lanes, i = 0;
        int stepBytes = step * TW.ElementSize;
        TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
        for (; i + step <= k; i += step)
        {
            if (prefetch && Sse.IsSupported)
            {
                byte* ahead = w + (long)i * TW.ElementSize + PrefetchBytes;
                for (int line = 0; line < stepBytes; line += 64) Sse.Prefetch0(ahead + line);
            }
            a0 = TOps.Fma(TOps.Load(x + i), TW.Load<TOps, TV>(w, i), a0);
            a1 = TOps.Fma(TOps.Load(x + i + lanes), TW.Load<TOps, TV>(w, i + lanes), a1);
            a2 = TOps.Fma(TOps.Load(x + i + 2 * lanes), TW.Load<TOps, TV>(w, i + 2 * lanes), a2);
            a3 = TOps.Fma(TOps.Load(x + i + 3 * lanes), TW.Load<TOps, TV>(w, i + 3 * lanes), a3);
        }
        for (; i + lanes <= k; i += lanes) a0 = TOps.Fma(TOps.Load(x + i), TW.Load<TOps, TV>(w, i), a0);
        float sum = TOps.Sum(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)));
        for (; i < k; i++) sum += x[i] * TW.LoadScalar(w, i);
        return sum;
    }

    // ---------------------------------------------------------------- prefill: packed panels, 6-row micro-kernel

    [ThreadStatic] private static float* t_panel;
    [ThreadStatic] private static long t_panelLength;

    private static float* PanelScratch(long floats)
    {
        if (t_panelLength < floats)
        {
            if (t_panel != null) NativeMemory.AlignedFree(t_panel);
            t_panel = (float*)NativeMemory.AlignedAlloc((nuint)(floats * 4), 64);
            t_panelLength = floats;
        }
        return t_panel;
    }

    private static void GemmPanel<TOps, TV>(Job job, int part) where TOps : struct, ISimdOps<TV> where TV : struct
    {
        int width = job.RowsPerPart, k = job.W.Cols;
        int o0 = part * width, cols = Math.Min(width, job.W.Rows - o0);
        float* panel = PanelScratch((long)k * width);
        Pack(job.W, o0, cols, width, panel);
        float* tile = stackalloc float[MicroRows * 2 * 16];
        float* bias = stackalloc float[2 * 16];
        for (int c = 0; c < width; c++) bias[c] = job.Bias != null && c < cols ? job.Bias[o0 + c] : 0;
        TV bias0 = TOps.Load(bias), bias1 = TOps.Load(bias + TOps.Lanes);
        for (int t = 0; t < job.Rows; t += MicroRows)
        {
            int valid = Math.Min(MicroRows, job.Rows - t);
            Micro<TOps, TV>(job, t, valid, panel, k, tile);
            for (int r = 0; r < valid; r++)
            {
                float* target = job.Y + (long)(t + r) * job.YStride + o0;
                float* source = tile + r * width;
                if (cols == width)
                {
                    TV v0 = TOps.Add(TOps.Load(source), bias0), v1 = TOps.Add(TOps.Load(source + TOps.Lanes), bias1);
                    if (job.Accumulate) { v0 = TOps.Add(v0, TOps.Load(target)); v1 = TOps.Add(v1, TOps.Load(target + TOps.Lanes)); }
                    TOps.Store(target, v0);
                    TOps.Store(target + TOps.Lanes, v1);
                }
                else
                    for (int c = 0; c < cols; c++) target[c] = (job.Accumulate ? target[c] : 0) + source[c] + bias[c];
            }
        }
    }

    [ThreadStatic] private static float* t_rows;
    [ThreadStatic] private static long t_rowsLength;

    /// <summary>Panel[k][c] = W[o0 + c, k] as float32; columns past the matrix are zero.</summary>
    private static void Pack(WeightMatrix w, int o0, int cols, int width, float* panel)
    {
        if (cols == width && width % 16 == 0)
        {
            bool packed = true;
            for (int c0 = 0; c0 < width && packed; c0 += 16) packed = PanelPacking.TryPack16(w, o0 + c0, panel + c0, width);
            if (packed) return;
        }
        int k = w.Cols;
        long needed = (long)width * k;
        if (t_rowsLength < needed)
        {
            if (t_rows != null) NativeMemory.AlignedFree(t_rows);
            t_rows = (float*)NativeMemory.AlignedAlloc((nuint)(needed * 4), 64);
            t_rowsLength = needed;
        }
        float* rows = t_rows;
        // Widen the panel's rows with sequential reads, then transpose: reads stay in L1, writes are sequential.
        for (int c = 0; c < width; c++)
        {
            if (c < cols) WeightConversion.ToFloat32(w.RowPointer(o0 + c), w.DType, rows + (long)c * k, k);
            else new Span<float>(rows + (long)c * k, k).Clear();
        }
        if (Avx2.IsSupported && width % 8 == 0 && (long)7 * k < int.MaxValue / 4)
        {
            // 8 rows at a time: one gather reads column i of 8 rows.
            var index = Vector256.Create(0, k, 2 * k, 3 * k, 4 * k, 5 * k, 6 * k, 7 * k);
            for (int c0 = 0; c0 < width; c0 += 8)
            {
                float* source = rows + (long)c0 * k;
                for (int i = 0; i < k; i++)
                    Avx2.GatherVector256(source + i, index, 4).Store(panel + (long)i * width + c0);
            }
            return;
        }
        for (int i = 0; i < k; i++)
        {
            float* target = panel + (long)i * width;
            float* source = rows + i;
            for (int c = 0; c < width; c++) target[c] = source[(long)c * k];
        }
    }

    /// <summary>tile[r][0..2·lanes) = Σ_k x[t + r, k] · panel[k][·] for 6 rows (rows past <paramref name="valid"/> repeat the last one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro<TOps, TV>(in Job job, int t, int valid, float* panel, int k, float* tile)
        where TOps : struct, ISimdOps<TV> where TV : struct
    {
        int lanes = TOps.Lanes, width = 2 * lanes;
        long s = job.XStride;
        float* x0 = job.X + t * s;
        float* x1 = x0 + Math.Min(1, valid - 1) * s, x2 = x0 + Math.Min(2, valid - 1) * s;
        float* x3 = x0 + Math.Min(3, valid - 1) * s, x4 = x0 + Math.Min(4, valid - 1) * s, x5 = x0 + Math.Min(5, valid - 1) * s;
        TV c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero, c20 = TOps.Zero, c21 = TOps.Zero;
        TV c30 = TOps.Zero, c31 = TOps.Zero, c40 = TOps.Zero, c41 = TOps.Zero, c50 = TOps.Zero, c51 = TOps.Zero;
        float* p = panel;
        for (int i = 0; i < k; i++, p += width)
        {
            TV b0 = TOps.Load(p), b1 = TOps.Load(p + lanes);
            TV a = TOps.Broadcast(x0[i]); c00 = TOps.Fma(a, b0, c00); c01 = TOps.Fma(a, b1, c01);
            a = TOps.Broadcast(x1[i]); c10 = TOps.Fma(a, b0, c10); c11 = TOps.Fma(a, b1, c11);
            a = TOps.Broadcast(x2[i]); c20 = TOps.Fma(a, b0, c20); c21 = TOps.Fma(a, b1, c21);
            a = TOps.Broadcast(x3[i]); c30 = TOps.Fma(a, b0, c30); c31 = TOps.Fma(a, b1, c31);
            a = TOps.Broadcast(x4[i]); c40 = TOps.Fma(a, b0, c40); c41 = TOps.Fma(a, b1, c41);
            a = TOps.Broadcast(x5[i]); c50 = TOps.Fma(a, b0, c50); c51 = TOps.Fma(a, b1, c51);
        }
        TOps.Store(tile, c00); TOps.Store(tile + lanes, c01);
        TOps.Store(tile + width, c10); TOps.Store(tile + width + lanes, c11);
        TOps.Store(tile + 2 * width, c20); TOps.Store(tile + 2 * width + lanes, c21);
        TOps.Store(tile + 3 * width, c30); TOps.Store(tile + 3 * width + lanes, c31);
        TOps.Store(tile + 4 * width, c40); TOps.Store(tile + 4 * width + lanes, c41);
        TOps.Store(tile + 5 * width, c50); TOps.Store(tile + 5 * width + lanes, c51);
    }
}
