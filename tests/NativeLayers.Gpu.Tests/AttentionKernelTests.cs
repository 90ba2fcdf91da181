using NativeLayers.Backends.Cpu;
using NativeLayers.Backends.Gpu.Kernels;
using static NativeLayers.Backends.Gpu.Kernels.Tests.TestData;

namespace NativeLayers.Backends.Gpu.Kernels.Tests;

[Collection("ilgpu-cpu")]
public sealed unsafe class AttentionKernelTests(CpuDeviceFixture fixture)
{
    private readonly GpuDevice _gpu = fixture.Device;

    /// <summary>(queries, past) per sequence.</summary>
    private void Check(int heads, int kvHeads, int headDim, bool causal, int? window, (int Queries, int Past)[] seqs, int rowsPerWarp = 0)
    {
        var rng = new Random(heads * 100 + kvHeads * 10 + headDim + seqs.Length);
        int qStride = heads * headDim + 3, kvStride = kvHeads * headDim, outStride = heads * headDim;
        int totalQ = seqs.Sum(s => s.Queries), totalKv = seqs.Sum(s => s.Queries + s.Past);
        var q = Random(rng, totalQ * qStride);
        var k = Random(rng, totalKv * kvStride, 2f);
        var v = Random(rng, totalKv * kvStride);
        float scale = 1f / MathF.Sqrt(headDim);
        var table = new int[seqs.Length * 4];
        int row = 0, kvRow = 0;
        for (int s = 0; s < seqs.Length; s++)
        {
            table[s * 4] = row; table[s * 4 + 1] = seqs[s].Queries; table[s * 4 + 2] = seqs[s].Past; table[s * 4 + 3] = kvRow;
            row += seqs[s].Queries; kvRow += seqs[s].Queries + seqs[s].Past;
        }

        var expected = new float[totalQ * outStride];
        using (var pool = new WorkerPool(1))
        fixed (float* pq = q, pk = k, pv = v, pe = expected)
        {
            var list = new AttentionSequence[seqs.Length];
            for (int s = 0; s < seqs.Length; s++)
                list[s] = new AttentionSequence(table[s * 4], seqs[s].Queries, seqs[s].Past, pk + (long)table[s * 4 + 3] * kvStride, pv + (long)table[s * 4 + 3] * kvStride);
            Attention.Run(pool, list, pq, qStride, pe, outStride, new AttentionShape(heads, kvHeads, headDim, scale, causal, window));
        }

        using var bq = _gpu.Upload<float>(q);
        using var bk = _gpu.Upload<float>(k);
        using var bv = _gpu.Upload<float>(v);
        using var bs = _gpu.Upload<int>(table);
        using var bo = _gpu.Allocate<float>(totalQ * outStride);
        var dims = new AttentionDims
        {
            Heads = heads, KvHeads = kvHeads, HeadDim = headDim, QStride = qStride, OutStride = outStride, KvStride = kvStride,
            Scale = scale, Causal = causal ? 1 : 0, Window = window ?? -1, RowsPerWarp = rowsPerWarp,
        };
        _gpu.Attention(bq.View, bk.View, bv.View, bo.View, bs.View, seqs.Length, seqs.Max(s => s.Queries), dims);
        Close(expected, _gpu.Download<float>(bo.View), 2e-5, "attention");
    }

    [Fact]
    public void Causal_prefill_with_a_cached_prefix_and_gqa() => Check(4, 2, 8, true, null, [(5, 3)]);

    [Fact]
    public void Prefill_longer_than_a_key_tile_with_several_rows_per_warp() => Check(2, 1, 6, true, null, [(21, 0)], rowsPerWarp: 2);

    [Fact]
    public void Sliding_window_keeps_keys_i_minus_w_to_i() => Check(2, 2, 8, true, 4, [(19, 2)]);

    [Fact]
    public void Bidirectional_sees_the_whole_sequence() => Check(3, 1, 5, false, null, [(7, 0), (3, 0)]);

    [Fact]
    public void Decode_over_a_ragged_batch_with_grouped_kv_heads() => Check(6, 2, 8, true, null, [(1, 20), (1, 0), (1, 33)]);

    [Fact]
    public void Decode_with_a_sliding_window() => Check(4, 1, 4, true, 5, [(1, 30), (2, 17)]);
}
