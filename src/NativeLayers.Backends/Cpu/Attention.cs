using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
        float* query = q + (long)(seq.FirstRow + t) * qStride + head * d;
        float* result = output + (long)(seq.FirstRow + t) * outStride + head * d;
        float* keys = seq.Keys + (long)first * shape.KvStride + kvOffset;
        float* values = seq.Values + (long)first * shape.KvStride + kvOffset;

        float[]? rented = count > 4096 ? new float[count] : null;
        Span<float> scores = rented ?? stackalloc float[count];
        fixed (float* s = scores)
        {
            if (Simd.Use512 && d % 16 == 0) Attend<Simd512, Vector512<float>>(query, keys, values, shape.KvStride, d, count, shape.Scale, shape.SoftCap, s, result);
            else if (d % 8 == 0) Attend<Simd256, Vector256<float>>(query, keys, values, shape.KvStride, d, count, shape.Scale, shape.SoftCap, s, result);
            else AttendScalar(query, keys, values, shape.KvStride, d, count, shape.Scale, shape.SoftCap, scores, result);
        }
    }

    /// <summary>Scores, softmax and weighted sum for one query, with head_dim a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Attend<TOps, TV>(float* query, float* keys, float* values, int stride, int d, int count, float scale, float softCap, float* scores, float* result)
        where TOps : struct, ISimdOps<TV> where TV : struct
    {
        int lanes = TOps.Lanes;
        for (int j = 0; j < count; j++)
        {
            float* key = keys + (long)j * stride;
            TV acc = TOps.Multiply(TOps.Load(query), TOps.Load(key));
            for (int i = lanes; i < d; i += lanes) acc = TOps.Fma(TOps.Load(query + i), TOps.Load(key + i), acc);
            scores[j] = TOps.Sum(acc) * scale;
        }
        HostMath.SoftCap(new Span<float>(scores, count), softCap);
        Sampling.Softmax(new Span<float>(scores, count));
        for (int i = 0; i < d; i += lanes) TOps.Store(result + i, TOps.Zero);
        for (int j = 0; j < count; j++)
        {
            float* value = values + (long)j * stride;
            TV p = TOps.Broadcast(scores[j]);
            for (int i = 0; i < d; i += lanes) TOps.Store(result + i, TOps.Fma(p, TOps.Load(value + i), TOps.Load(result + i)));
        }
    }

    private static void AttendScalar(float* query, float* keys, float* values, int stride, int d, int count, float scale, float softCap, Span<float> scores, float* result)
    {
        var q = new ReadOnlySpan<float>(query, d);
        for (int j = 0; j < count; j++) scores[j] = TensorPrimitives.Dot(q, new ReadOnlySpan<float>(keys + (long)j * stride, d)) * scale;
        HostMath.SoftCap(scores, softCap);
        Sampling.Softmax(scores);
        var r = new Span<float>(result, d);
        r.Clear();
        for (int j = 0; j < count; j++) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(values + (long)j * stride, d), scores[j], r, r);
    }
}
