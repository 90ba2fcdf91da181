using ILGPU;
using ILGPU.Algorithms;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Shape and masking of an attention launch (see <see cref="AttentionKernels.Attend"/>).</summary>
public struct AttentionDims
{
    public int Heads;
    public int KvHeads;
    public int HeadDim;
    /// <summary>Row strides (floats) of q, of the output and of the key/value cache rows (usually KvHeads·HeadDim).</summary>
    public int QStride, OutStride, KvStride;
    /// <summary>Float offsets of head 0 within q rows, output rows and k/v rows.</summary>
    public int QOffset, OutOffset, KvOffset;
    /// <summary>Score scale (usually 1/√HeadDim).</summary>
    public float Scale;
    /// <summary>1: causal (query at position i sees keys ≤ i); 0: bidirectional (the whole sequence).</summary>
    public int Causal;
    /// <summary>Sliding window W ≥ 0 (causal only): keys i−W..i; −1 = none.</summary>
    public int Window;
    /// <summary>Score soft-capping c (Gemma 2): s ← c · tanh(s / c) before masking; 0 = none.</summary>
    public float SoftCap;
    /// <summary>Query rows per warp (rows = (token, query head of the kv group) pairs); rows per group = warps · this.</summary>
    public int RowsPerWarp;
}

/// <summary>
/// Scaled dot-product attention over a ragged batch, one kernel for prefill and decode: tiles of 16 keys/values are
/// staged in shared memory and every query row keeps an online softmax (running max, running sum, rescaled output).
/// </summary>
public static class AttentionKernels
{
    /// <summary>Keys per shared-memory tile.</summary>
    public const int KeyTile = 16;

    /// <summary>Dynamic shared memory (floats) a launch needs.</summary>
    public static int SharedFloats(int headDim, int warps, int rowsPerWarp)
    {
        int rows = warps * rowsPerWarp;
        return 2 * rows * headDim + KeyTile * (headDim + 1) + KeyTile * headDim + warps * KeyTile + 2 * rows;
    }

    /// <summary>
    /// sequences is [n, 4] ints per sequence: firstRow (row of its first query in q and output), queries, past (tokens
    /// already cached; query t sits at position past + t), kvFirstRow (row of its position 0 in keys/values, which hold
    /// past + queries rows, already rotated). Query head h reads kv head h / (Heads / KvHeads) (repeat_kv).
    /// A group serves one sequence and one kv head, and a block of rows (t, h) ordered t-major, so GQA query heads
    /// share every K/V tile; for decode (queries = 1) a group is the kv head's query heads.
    /// Grid = (ceil(max queries · groupSize / rowsPerGroup), KvHeads, sequences); 1-D groups;
    /// dynamic shared memory = <see cref="SharedFloats"/>.
    /// </summary>
    public static void Attend(ArrayView<float> q, ArrayView<float> keys, ArrayView<float> values, ArrayView<float> output,
        ArrayView<int> sequences, AttentionDims d)
    {
        int seq = Grid.IdxZ, kvHead = Grid.IdxY;
        int firstRow = sequences[seq * 4], queries = sequences[seq * 4 + 1], past = sequences[seq * 4 + 2], kvFirst = sequences[seq * 4 + 3];
        int group = d.Heads / d.KvHeads;
        int totalRows = queries * group;
        int warps = Group.DimX / Warp.WarpSize;
        int blockRows = warps * d.RowsPerWarp;
        int r0 = Grid.IdxX * blockRows;
        if (r0 >= totalRows) return;   // uniform over the group: before any barrier
        int rEnd = r0 + blockRows < totalRows ? r0 + blockRows : totalRows;
        int hd = d.HeadDim, kStride = hd + 1;

        var shared = SharedMemory.GetDynamic<float>();
        var qs = shared.SubView(0, blockRows * hd);
        var os = shared.SubView(blockRows * hd, blockRows * hd);
        var ks = shared.SubView(2 * blockRows * hd, KeyTile * kStride);
        var vs = shared.SubView(2 * blockRows * hd + KeyTile * kStride, KeyTile * hd);
        var ps = shared.SubView(2 * blockRows * hd + KeyTile * (kStride + hd), warps * KeyTile);
        var ms = shared.SubView(2 * blockRows * hd + KeyTile * (kStride + hd) + warps * KeyTile, blockRows);
        var ls = shared.SubView(2 * blockRows * hd + KeyTile * (kStride + hd) + warps * KeyTile + blockRows, blockRows);

        int tid = Group.IdxX, threads = Group.DimX;
        for (int e = tid; e < blockRows * hd; e += threads)
        {
            int rr = e / hd, i = e - rr * hd, r = r0 + rr;
            float v = 0f;
            if (r < rEnd)
            {
                int t = r / group, h = kvHead * group + (r - t * group);
                v = q[(long)(firstRow + t) * d.QStride + d.QOffset + h * hd + i] * d.Scale;
            }
            qs[e] = v;
            os[e] = 0f;
        }
        for (int e = tid; e < blockRows; e += threads)
        {
            ms[e] = float.NegativeInfinity;
            ls[e] = 0f;
        }

        // Keys this block can see.
        int tFirst = r0 / group, tLast = (rEnd - 1) / group;
        int kStart = 0, kEnd = past + queries;
        if (d.Causal != 0)
        {
            kEnd = past + tLast + 1;
            if (d.Window >= 0) { kStart = past + tFirst - d.Window; if (kStart < 0) kStart = 0; }
        }
        int lane = Warp.LaneIdx, ws = Warp.WarpSize, warp = Warp.WarpIdx;
        long kvBase = (long)kvFirst * d.KvStride + d.KvOffset + kvHead * hd;
        Group.Barrier();

        for (int k0 = kStart; k0 < kEnd; k0 += KeyTile)
        {
            for (int e = tid; e < KeyTile * hd; e += threads)
            {
                int j = e / hd, i = e - j * hd;
                float kv = 0f, vv = 0f;
                if (k0 + j < kEnd)
                {
                    long at = kvBase + (long)(k0 + j) * d.KvStride + i;
                    kv = keys[at];
                    vv = values[at];
                }
                ks[j * kStride + i] = kv;
                vs[e] = vv;
            }
            Group.Barrier();

            for (int rw = 0; rw < d.RowsPerWarp; rw++)
            {
                int rr = warp * d.RowsPerWarp + rw, r = r0 + rr;
                if (r >= rEnd) break;   // uniform over the warp
                int position = past + r / group;
                int first = 0, last = kEnd - 1;
                if (d.Causal != 0)
                {
                    last = position;
                    if (d.Window >= 0) first = position - d.Window;
                }
                // Scores of this tile's keys: one lane per key.
                for (int j = lane; j < KeyTile; j += ws)
                {
                    int kp = k0 + j;
                    float s = float.NegativeInfinity;
                    if (kp >= first && kp <= last && kp < kEnd)
                    {
                        s = Dot(qs, rr * hd, ks, j * kStride, hd);
                        if (d.SoftCap > 0f) s = XMath.Tanh(s / d.SoftCap) * d.SoftCap;
                    }
                    ps[warp * KeyTile + j] = s;
                }
                Warp.Barrier();
                float tileMax = float.NegativeInfinity;
                for (int j = 0; j < KeyTile; j++)
                {
                    float s = ps[warp * KeyTile + j];
                    tileMax = s > tileMax ? s : tileMax;
                }
                if (tileMax == float.NegativeInfinity)
                {
                    Warp.Barrier();
                    continue;   // uniform: every lane read the same scores
                }
                float mOld = ms[rr];
                float mNew = mOld > tileMax ? mOld : tileMax;
                float correction = XMath.Exp(mOld - mNew);   // exp(−inf) = 0 on the first tile
                Warp.Barrier();
                for (int j = lane; j < KeyTile; j += ws)
                {
                    int at = warp * KeyTile + j;
                    ps[at] = XMath.Exp(ps[at] - mNew);
                }
                Warp.Barrier();
                int pb = warp * KeyTile;
                float tileSum = 0f;
                for (int j = 0; j < KeyTile; j++) tileSum += ps[pb + j];
                for (int i = lane; i < hd; i += ws)
                {
                    float acc = os[rr * hd + i] * correction;
                    for (int j = 0; j < KeyTile; j += 4)
                    {
                        acc += ps[pb + j] * vs[j * hd + i] + ps[pb + j + 1] * vs[(j + 1) * hd + i]
                             + ps[pb + j + 2] * vs[(j + 2) * hd + i] + ps[pb + j + 3] * vs[(j + 3) * hd + i];
                    }
                    os[rr * hd + i] = acc;
                }
                Warp.Barrier();
                if (lane == 0)
                {
                    ms[rr] = mNew;
                    ls[rr] = ls[rr] * correction + tileSum;
                }
                Warp.Barrier();
            }
            Group.Barrier();
        }

        for (int e = tid; e < (rEnd - r0) * hd; e += threads)
        {
            int rr = e / hd, i = e - rr * hd, r = r0 + rr;
            int t = r / group, h = kvHead * group + (r - t * group);
            float l = ls[rr];
            output[(long)(firstRow + t) * d.OutStride + d.OutOffset + h * hd + i] = l > 0f ? os[e] / l : 0f;
        }
    }

    private static float Dot(ArrayView<float> a, int aBase, ArrayView<float> b, int bBase, int n)
    {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = 0;
        for (; i + 3 < n; i += 4)
        {
            s0 += a[aBase + i] * b[bBase + i];
            s1 += a[aBase + i + 1] * b[bBase + i + 1];
            s2 += a[aBase + i + 2] * b[bBase + i + 2];
            s3 += a[aBase + i + 3] * b[bBase + i + 3];
        }
        for (; i < n; i++) s0 += a[aBase + i] * b[bBase + i];
        return (s0 + s1) + (s2 + s3);
    }
}
