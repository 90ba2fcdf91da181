using System.Numerics.Tensors;

namespace NativeLayers.Backends.Cpu;

/// <summary>One sequence's share of an attention call: its query rows and its key/value cache for this layer.</summary>
public readonly unsafe struct AttentionSequence(int firstRow, int queries, int past, float* keys, float* values)
{
    /// <summary>Row of the first new query in the q and output buffers.</summary>
    public readonly int FirstRow = firstRow;
    public readonly int Queries = queries;
    /// <summary>Tokens already in the cache before these queries; query t sits at position past + t.</summary>
    public readonly int Past = past;
    /// <summary>[past + queries, kvHeads·headDim] cached keys (already rotated) and values.</summary>
    public readonly float* Keys = keys;
    public readonly float* Values = values;
}

/// <summary>Shape and masking of an attention call.</summary>
public readonly record struct AttentionShape(int Heads, int KvHeads, int HeadDim, float Scale, bool Causal = true, int? SlidingWindow = null)
{
    public int KvStride => KvHeads * HeadDim;
    public int GroupSize => Heads / KvHeads;
}

/// <summary>
/// Scaled dot-product attention over a ragged batch. Causal attention lets query position i see keys j ≤ i (and
/// j ≥ i − W with a sliding window W, the Hugging Face 4.40 rule); bidirectional attention sees the whole sequence.
/// Query head h reads key/value head h / (heads / kvHeads), as repeat_kv does.
/// </summary>
public static unsafe class Attention
{
    private const int QueriesPerPart = 16;

    public static void Run(WorkerPool pool, AttentionSequence[] sequences, float* q, int qStride, float* output, int outStride, AttentionShape shape)
    {
        var parts = new List<(int Sequence, int Head, int FirstQuery)>();
        for (int s = 0; s < sequences.Length; s++)
            for (int h = 0; h < shape.Heads; h++)
                for (int t = 0; t < sequences[s].Queries; t += QueriesPerPart)
                    parts.Add((s, h, t));
        pool.For(parts.Count, i =>
        {
            var (s, h, t0) = parts[i];
            var seq = sequences[s];
            int end = Math.Min(seq.Queries, t0 + QueriesPerPart);
            for (int t = t0; t < end; t++) AttendOne(seq, h, t, q, qStride, output, outStride, shape);
        });
    }

    private static void AttendOne(in AttentionSequence seq, int head, int t, float* q, int qStride, float* output, int outStride, in AttentionShape shape)
    {
        int d = shape.HeadDim;
        int position = seq.Past + t;
        int last = shape.Causal ? position : seq.Past + seq.Queries - 1;
        int first = shape.Causal && shape.SlidingWindow is int w ? Math.Max(0, position - w) : 0;
        int count = last - first + 1;
        int kvOffset = head / shape.GroupSize * d;
        var query = new ReadOnlySpan<float>(q + (long)(seq.FirstRow + t) * qStride + head * d, d);
        var result = new Span<float>(output + (long)(seq.FirstRow + t) * outStride + head * d, d);

        Span<float> scores = count <= 2048 ? stackalloc float[count] : new float[count];
        for (int j = 0; j < count; j++)
            scores[j] = TensorPrimitives.Dot(query, new ReadOnlySpan<float>(seq.Keys + (long)(first + j) * shape.KvStride + kvOffset, d)) * shape.Scale;
        Sampling.Softmax(scores);
        result.Clear();
        for (int j = 0; j < count; j++)
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(seq.Values + (long)(first + j) * shape.KvStride + kvOffset, d), scores[j], result, result);
    }
}
