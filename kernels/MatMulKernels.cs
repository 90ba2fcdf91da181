using ILGPU;
using ILGPU.Runtime.Cuda;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>
/// Shape of a linear layer y[t, o] = Σ_k x[t, k] · W[o, k] + bias[o] (+ y[t, o] when Accumulate ≠ 0):
/// x is [Rows, In] row-major with row stride XStride, W is [Out, In] row-major (nn.Linear), y is [Rows, Out] with row
/// stride YStride.
/// </summary>
public struct LinearDims
{
    public int Rows;
    public int In;
    public int Out;
    public int XStride;
    public int YStride;
    public int HasBias;
    public int Accumulate;
}

/// <summary>16 float accumulators of a 4×4 register micro-tile.</summary>
internal struct Acc4x4
{
    public float C00, C01, C02, C03, C10, C11, C12, C13, C20, C21, C22, C23, C30, C31, C32, C33;
}

/// <summary>One m16n8 f32 accumulator fragment of mma.sync (per lane: rows g, g+8; cols 2t, 2t+1).</summary>
public struct MmaFrag
{
    public float C0, C1, C2, C3;
}

/// <summary>Input precision of the tensor-core kernel: how floats are packed in pairs and which mma instruction runs.</summary>
public interface IMmaFormat
{
    /// <summary>Two values as one .b32 register (lo in bits 0..15).</summary>
    uint Pack(float lo, float hi);
    /// <summary>Raw 16-bit weight → float (for the emulated fallback).</summary>
    float Unpack(uint bits16);
    /// <summary>c += A(16×16, row) · B(16×8, col) on tensor cores; only called when <see cref="CudaAsm.IsSupported"/>.</summary>
    void Mma(ref MmaFrag c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1);
}

/// <summary>bf16 inputs (round to nearest even), f32 accumulation.</summary>
public struct Bf16Mma : IMmaFormat
{
    public readonly uint Pack(float lo, float hi) => ToBf16(lo) | (ToBf16(hi) << 16);

    private static uint ToBf16(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    }

    public readonly float Unpack(uint bits16) => Interop.IntAsFloat(bits16 << 16);

    public readonly void Mma(ref MmaFrag c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        Ref<float> c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
        Input<uint> ia0 = a0, ia1 = a1, ia2 = a2, ia3 = a3, ib0 = b0, ib1 = b1;
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref c0, ref c1, ref c2, ref c3, ref ia0, ref ia1, ref ia2, ref ia3, ref ib0, ref ib1);
        c.C0 = c0.Value; c.C1 = c1.Value; c.C2 = c2.Value; c.C3 = c3.Value;
    }
}

/// <summary>IEEE f16 inputs (activations rounded to half: values beyond ±65504 overflow), f32 accumulation.</summary>
public struct F16Mma : IMmaFormat
{
    public readonly uint Pack(float lo, float hi) => ToF16(lo) | (ToF16(hi) << 16);

    /// <summary>float → IEEE half bits, round to nearest even (ILGPU.Half's cast truncates on the CPU accelerator).</summary>
    private static uint ToF16(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        uint sign = (bits >> 16) & 0x8000u, abs = bits & 0x7FFFFFFFu;
        if (abs > 0x7F800000u) return sign | 0x7E00u;            // NaN
        if (abs >= 0x477FF000u) return sign | 0x7C00u;           // ≥ 65520 rounds to infinity
        if (abs < 0x38800000u)                                   // below 2^-14: subnormal half; the float add rounds (RNE)
            return sign | (Interop.FloatAsInt(Interop.IntAsFloat(abs) + 0.5f) - 0x3F000000u);
        abs += 0xC8000FFFu + ((abs >> 13) & 1u);                 // rebias exponent 127 → 15, round to nearest even
        return sign | (abs >> 13);
    }

    public readonly float Unpack(uint bits16) => (float)Interop.IntAsFloat((ushort)bits16);

    public readonly void Mma(ref MmaFrag c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        Ref<float> c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
        Input<uint> ia0 = a0, ia1 = a1, ia2 = a2, ia3 = a3, ib0 = b0, ib1 = b1;
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref c0, ref c1, ref c2, ref c3, ref ia0, ref ia1, ref ia2, ref ia3, ref ib0, ref ib1);
        c.C0 = c0.Value; c.C1 = c1.Value; c.C2 = c2.Value; c.C3 = c3.Value;
    }
}

/// <summary>Linear layers: mat-vec for decode, a shared-memory tiled FMA matmul, and a tensor-core (mma.sync) prefill matmul.</summary>
public static class MatMulKernels
{
    // ---------------------------------------------------------------- mat-vec (few rows)

    /// <summary>
    /// Few rows (decode): one warp per output feature o = Grid.IdxX · warpsPerGroup + warp; lanes stride over k (four
    /// independent loads in flight), rows in blocks of four share each weight load; warp-shuffle sums.
    /// 1-D groups; grid = ceil(Out / warpsPerGroup).
    /// </summary>
    public static void MatVec<TStore, TFormat>(ArrayView<float> x, ArrayView<TStore> w, ArrayView<float> bias, ArrayView<float> y, LinearDims d)
        where TStore : unmanaged where TFormat : struct, IWeightFormat<TStore>
    {
        int o = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (o >= d.Out) return;
        var format = default(TFormat);
        int lane = Warp.LaneIdx, ws = Warp.WarpSize, n = d.In;
        long wRow = (long)o * n;
        float b = d.HasBias != 0 ? bias[o] : 0f;
        for (int r0 = 0; r0 < d.Rows; r0 += 4)
        {
            // Rows past the end repeat the last row (results discarded), so the loop body stays branch-free.
            int last = d.Rows - 1;
            long x0 = (long)r0 * d.XStride;
            long x1 = (long)(r0 + 1 > last ? last : r0 + 1) * d.XStride;
            long x2 = (long)(r0 + 2 > last ? last : r0 + 2) * d.XStride;
            long x3 = (long)(r0 + 3 > last ? last : r0 + 3) * d.XStride;
            float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
            int k = lane;
            for (; k + 3 * ws < n; k += 4 * ws)
            {
                float w0 = format.ToFloat(w[wRow + k]);
                float w1 = format.ToFloat(w[wRow + k + ws]);
                float w2 = format.ToFloat(w[wRow + k + 2 * ws]);
                float w3 = format.ToFloat(w[wRow + k + 3 * ws]);
                a0 += w0 * x[x0 + k] + w1 * x[x0 + k + ws] + w2 * x[x0 + k + 2 * ws] + w3 * x[x0 + k + 3 * ws];
                a1 += w0 * x[x1 + k] + w1 * x[x1 + k + ws] + w2 * x[x1 + k + 2 * ws] + w3 * x[x1 + k + 3 * ws];
                a2 += w0 * x[x2 + k] + w1 * x[x2 + k + ws] + w2 * x[x2 + k + 2 * ws] + w3 * x[x2 + k + 3 * ws];
                a3 += w0 * x[x3 + k] + w1 * x[x3 + k + ws] + w2 * x[x3 + k + 2 * ws] + w3 * x[x3 + k + 3 * ws];
            }
            for (; k < n; k += ws)
            {
                float wk = format.ToFloat(w[wRow + k]);
                a0 += wk * x[x0 + k];
                a1 += wk * x[x1 + k];
                a2 += wk * x[x2 + k];
                a3 += wk * x[x3 + k];
            }
            a0 = Reduce.WarpSum(a0);
            a1 = Reduce.WarpSum(a1);
            a2 = Reduce.WarpSum(a2);
            a3 = Reduce.WarpSum(a3);
            if (lane == 0)
            {
                Store(y, d, r0, o, a0 + b);
                if (r0 + 1 <= last) Store(y, d, r0 + 1, o, a1 + b);
                if (r0 + 2 <= last) Store(y, d, r0 + 2, o, a2 + b);
                if (r0 + 3 <= last) Store(y, d, r0 + 3, o, a3 + b);
            }
        }
    }

    private static void Store(ArrayView<float> y, LinearDims d, int row, int o, float value)
    {
        long at = (long)row * d.YStride + o;
        y[at] = d.Accumulate != 0 ? y[at] + value : value;
    }

    // ---------------------------------------------------------------- tiled FMA matmul

    /// <summary>Depth of one shared-memory K slice of <see cref="Tiled{TStore, TFormat}"/>.</summary>
    public const int TiledK = 16;

    /// <summary>
    /// Many rows: 2-D groups (gx, gy); a group computes a [4·gy rows] × [4·gx outputs] tile, each thread a 4×4 micro-tile
    /// strided by the group dims (conflict-free shared reads, coalesced stores). K advances in slices of 16 through
    /// dynamic shared memory holding xs[16][4gy] and ws[16][4gx] (floats: 64·(gx + gy)). Grid = (ceil(Out / 4gx), ceil(Rows / 4gy)).
    /// </summary>
    public static void Tiled<TStore, TFormat>(ArrayView<float> x, ArrayView<TStore> w, ArrayView<float> bias, ArrayView<float> y, LinearDims d)
        where TStore : unmanaged where TFormat : struct, IWeightFormat<TStore>
    {
        var format = default(TFormat);
        int gx = Group.DimX, gy = Group.DimY, tx = Group.IdxX, ty = Group.IdxY;
        int bm = 4 * gy, bn = 4 * gx;
        int m0 = Grid.IdxY * bm, n0 = Grid.IdxX * bn;
        var shared = SharedMemory.GetDynamic<float>();
        var xs = shared.SubView(0, TiledK * bm);
        var ws = shared.SubView(TiledK * bm, TiledK * bn);
        int threads = gx * gy, tid = ty * gx + tx;
        var acc = default(Acc4x4);

        for (int k0 = 0; k0 < d.In; k0 += TiledK)
        {
            for (int e = tid; e < bm * TiledK; e += threads)
            {
                int mm = e / TiledK, kk = e - mm * TiledK;
                int m = m0 + mm, k = k0 + kk;
                xs[kk * bm + mm] = m < d.Rows && k < d.In ? x[(long)m * d.XStride + k] : 0f;
            }
            for (int e = tid; e < bn * TiledK; e += threads)
            {
                int nn = e / TiledK, kk = e - nn * TiledK;
                int n = n0 + nn, k = k0 + kk;
                ws[kk * bn + nn] = n < d.Out && k < d.In ? format.ToFloat(w[(long)n * d.In + k]) : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < TiledK; kk += 4)
            {
                Step(ref acc, xs, ws, kk, bm, bn, tx, ty, gx, gy);
                Step(ref acc, xs, ws, kk + 1, bm, bn, tx, ty, gx, gy);
                Step(ref acc, xs, ws, kk + 2, bm, bn, tx, ty, gx, gy);
                Step(ref acc, xs, ws, kk + 3, bm, bn, tx, ty, gx, gy);
            }
            Group.Barrier();
        }

        int r0 = m0 + ty, c0 = n0 + tx;
        StoreRow(y, bias, d, r0, c0, gx, acc.C00, acc.C01, acc.C02, acc.C03);
        StoreRow(y, bias, d, r0 + gy, c0, gx, acc.C10, acc.C11, acc.C12, acc.C13);
        StoreRow(y, bias, d, r0 + 2 * gy, c0, gx, acc.C20, acc.C21, acc.C22, acc.C23);
        StoreRow(y, bias, d, r0 + 3 * gy, c0, gx, acc.C30, acc.C31, acc.C32, acc.C33);
    }

    private static void Step(ref Acc4x4 a, ArrayView<float> xs, ArrayView<float> ws, int kk, int bm, int bn, int tx, int ty, int gx, int gy)
    {
        int xb = kk * bm + ty, wb = kk * bn + tx;
        float x0 = xs[xb], x1 = xs[xb + gy], x2 = xs[xb + 2 * gy], x3 = xs[xb + 3 * gy];
        float w0 = ws[wb], w1 = ws[wb + gx], w2 = ws[wb + 2 * gx], w3 = ws[wb + 3 * gx];
        a.C00 += x0 * w0; a.C01 += x0 * w1; a.C02 += x0 * w2; a.C03 += x0 * w3;
        a.C10 += x1 * w0; a.C11 += x1 * w1; a.C12 += x1 * w2; a.C13 += x1 * w3;
        a.C20 += x2 * w0; a.C21 += x2 * w1; a.C22 += x2 * w2; a.C23 += x2 * w3;
        a.C30 += x3 * w0; a.C31 += x3 * w1; a.C32 += x3 * w2; a.C33 += x3 * w3;
    }

    private static void StoreRow(ArrayView<float> y, ArrayView<float> bias, LinearDims d, int row, int col, int step, float v0, float v1, float v2, float v3)
    {
        if (row >= d.Rows) return;
        StoreOne(y, bias, d, row, col, v0);
        StoreOne(y, bias, d, row, col + step, v1);
        StoreOne(y, bias, d, row, col + 2 * step, v2);
        StoreOne(y, bias, d, row, col + 3 * step, v3);
    }

    private static void StoreOne(ArrayView<float> y, ArrayView<float> bias, LinearDims d, int row, int col, float value)
    {
        if (col >= d.Out) return;
        if (d.HasBias != 0) value += bias[col];
        long at = (long)row * d.YStride + col;
        y[at] = d.Accumulate != 0 ? y[at] + value : value;
    }

    // ---------------------------------------------------------------- tensor-core matmul

    /// <summary>Block tile of <see cref="TensorCore{TFormat}"/>: 64 rows × 64 outputs, K slices of 32, 4 warps of 32 lanes (2×2, 32×32 each).</summary>
    public const int MmaBlockM = 64, MmaBlockN = 64, MmaBlockK = 32, MmaThreads = 128;
    private const int MmaRowWords = MmaBlockK / 2 + 4;   // packed pairs per shared row, padded: conflict-free fragment loads

    /// <summary>
    /// Prefill on tensor cores: 16-bit weights [Out, In] (bf16 or f16 bits as ushort, matching <typeparamref name="TFormat"/>),
    /// x rounded to the same 16-bit type on the fly, f32 accumulation with <c>mma.sync.aligned.m16n8k16.row.col</c>.
    /// Requires 1-D groups of exactly 128 threads with a 32-lane warp; grid = (ceil(Out / 64), ceil(Rows / 64)).
    /// Where inline PTX is unavailable (<see cref="CudaAsm.IsSupported"/> false: the ILGPU CPU accelerator) each mma is
    /// computed by FMA from the same fragments exchanged through warp shuffles, which also checks the fragment layout.
    /// </summary>
    public static void TensorCore<TFormat>(ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> bias, ArrayView<float> y, LinearDims d)
        where TFormat : struct, IMmaFormat
    {
        var format = default(TFormat);
        var xs = SharedMemory.Allocate<uint>(MmaBlockM * MmaRowWords);
        var ws = SharedMemory.Allocate<uint>(MmaBlockN * MmaRowWords);
        int tid = Group.IdxX, lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int g = lane >> 2, t = lane & 3;
        int wm = (warp >> 1) * 32, wn = (warp & 1) * 32;
        int m0 = Grid.IdxY * MmaBlockM, n0 = Grid.IdxX * MmaBlockN;
        var c00 = default(MmaFrag); var c01 = default(MmaFrag); var c02 = default(MmaFrag); var c03 = default(MmaFrag);
        var c10 = default(MmaFrag); var c11 = default(MmaFrag); var c12 = default(MmaFrag); var c13 = default(MmaFrag);
        const int pairs = MmaBlockK / 2;

        for (int k0 = 0; k0 < d.In; k0 += MmaBlockK)
        {
            for (int e = tid; e < MmaBlockM * pairs; e += MmaThreads)
            {
                int mm = e / pairs, p = e - mm * pairs;
                int m = m0 + mm, k = k0 + 2 * p;
                float lo = 0f, hi = 0f;
                if (m < d.Rows)
                {
                    long at = (long)m * d.XStride + k;
                    if (k < d.In) lo = x[at];
                    if (k + 1 < d.In) hi = x[at + 1];
                }
                xs[mm * MmaRowWords + p] = format.Pack(lo, hi);
            }
            for (int e = tid; e < MmaBlockN * pairs; e += MmaThreads)
            {
                int nn = e / pairs, p = e - nn * pairs;
                int n = n0 + nn, k = k0 + 2 * p;
                uint lo = 0, hi = 0;
                if (n < d.Out)
                {
                    long at = (long)n * d.In + k;
                    if (k < d.In) lo = w[at];
                    if (k + 1 < d.In) hi = w[at + 1];
                }
                ws[nn * MmaRowWords + p] = lo | (hi << 16);
            }
            Group.Barrier();
            for (int ks = 0; ks < pairs; ks += 8)
            {
                // A fragments (rows g, g+8 of each 16-row m-tile; k pairs t and t+4), B fragments (column g of each 8-wide n-tile).
                int ra = (wm + g) * MmaRowWords + ks + t;
                uint a00 = xs[ra], a01 = xs[ra + 8 * MmaRowWords], a02 = xs[ra + 4], a03 = xs[ra + 8 * MmaRowWords + 4];
                int rb = ra + 16 * MmaRowWords;
                uint a10 = xs[rb], a11 = xs[rb + 8 * MmaRowWords], a12 = xs[rb + 4], a13 = xs[rb + 8 * MmaRowWords + 4];
                int wb = (wn + g) * MmaRowWords + ks + t;
                uint b00 = ws[wb], b01 = ws[wb + 4];
                uint b10 = ws[wb + 8 * MmaRowWords], b11 = ws[wb + 8 * MmaRowWords + 4];
                uint b20 = ws[wb + 16 * MmaRowWords], b21 = ws[wb + 16 * MmaRowWords + 4];
                uint b30 = ws[wb + 24 * MmaRowWords], b31 = ws[wb + 24 * MmaRowWords + 4];
                Mma(format, ref c00, a00, a01, a02, a03, b00, b01);
                Mma(format, ref c01, a00, a01, a02, a03, b10, b11);
                Mma(format, ref c02, a00, a01, a02, a03, b20, b21);
                Mma(format, ref c03, a00, a01, a02, a03, b30, b31);
                Mma(format, ref c10, a10, a11, a12, a13, b00, b01);
                Mma(format, ref c11, a10, a11, a12, a13, b10, b11);
                Mma(format, ref c12, a10, a11, a12, a13, b20, b21);
                Mma(format, ref c13, a10, a11, a12, a13, b30, b31);
            }
            Group.Barrier();
        }

        int row = m0 + wm + g, col = n0 + wn + 2 * t;
        StoreFrag(y, bias, d, row, col, c00);
        StoreFrag(y, bias, d, row, col + 8, c01);
        StoreFrag(y, bias, d, row, col + 16, c02);
        StoreFrag(y, bias, d, row, col + 24, c03);
        StoreFrag(y, bias, d, row + 16, col, c10);
        StoreFrag(y, bias, d, row + 16, col + 8, c11);
        StoreFrag(y, bias, d, row + 16, col + 16, c12);
        StoreFrag(y, bias, d, row + 16, col + 24, c13);
    }

    private static void StoreFrag(ArrayView<float> y, ArrayView<float> bias, LinearDims d, int row, int col, MmaFrag c)
    {
        if (row < d.Rows) { StoreOne(y, bias, d, row, col, c.C0); StoreOne(y, bias, d, row, col + 1, c.C1); }
        if (row + 8 < d.Rows) { StoreOne(y, bias, d, row + 8, col, c.C2); StoreOne(y, bias, d, row + 8, col + 1, c.C3); }
    }

    private static void Mma<TFormat>(TFormat format, ref MmaFrag c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
        where TFormat : struct, IMmaFormat
    {
        if (CudaAsm.IsSupported)
        {
            format.Mma(ref c, a0, a1, a2, a3, b0, b1);
            return;
        }
        // Emulation by FMA with the PTX ISA fragment layout (lane = 4g + t):
        //   A reg0 = A[g, 2t..2t+1], reg1 = A[g+8, 2t..], reg2 = A[g, 2t+8..], reg3 = A[g+8, 2t+8..]
        //   B reg0 = B[2t..2t+1, g], reg1 = B[2t+8.., g]; C: c0 = (g, 2t), c1 = (g, 2t+1), c2 = (g+8, 2t), c3 = (g+8, 2t+1).
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
        for (int p = 0; p < 8; p++)   // k pair p covers k = 2p, 2p+1
        {
            int q = p & 3;
            bool high = p >= 4;
            uint rowLo = Warp.Shuffle(high ? a2 : a0, 4 * g + q);       // A[g, 2p..2p+1]
            uint rowHi = Warp.Shuffle(high ? a3 : a1, 4 * g + q);       // A[g+8, 2p..2p+1]
            uint col0 = Warp.Shuffle(high ? b1 : b0, 4 * (2 * t) + q);  // B[2p..2p+1, 2t]
            uint col1 = Warp.Shuffle(high ? b1 : b0, 4 * (2 * t + 1) + q);
            float l0 = format.Unpack(rowLo & 0xFFFF), l1 = format.Unpack(rowLo >> 16);
            float h0 = format.Unpack(rowHi & 0xFFFF), h1 = format.Unpack(rowHi >> 16);
            float p0 = format.Unpack(col0 & 0xFFFF), p1 = format.Unpack(col0 >> 16);
            float q0 = format.Unpack(col1 & 0xFFFF), q1 = format.Unpack(col1 >> 16);
            c.C0 += l0 * p0 + l1 * p1;
            c.C1 += l0 * q0 + l1 * q1;
            c.C2 += h0 * p0 + h1 * p1;
            c.C3 += h0 * q0 + h1 * q1;
        }
    }
}
