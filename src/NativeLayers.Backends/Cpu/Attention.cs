using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeLayers.Backends.Cpu;

/// <summary>One sequence's share of an attention call: its query rows and its keys and values for this layer.</summary>
public readonly unsafe struct AttentionSequence(int firstRow, int queries, int past, float* keys, float* values, int keyStride = 0)
{
    /// <summary>Row of the first new query in the q and output buffers.</summary>
    public readonly int FirstRow = firstRow;
    public readonly int Queries = queries;
    /// <summary>Tokens already in the cache before these queries; query t sits at position past + t.</summary>
    public readonly int Past = past;
    /// <summary>[past + queries, kvHeads·headDim] keys (already rotated) and values: a cache, or the fused qkv rows themselves.</summary>
    public readonly float* Keys = keys;
    public readonly float* Values = values;
    /// <summary>Floats from one position's keys (or values) to the next; 0 = the shape's KvStride (a cache's layout).</summary>
    public readonly int KeyStride = keyStride;

    public int Stride(in AttentionShape shape) => KeyStride > 0 ? KeyStride : shape.KvStride;
    /// <summary>The last position query t (0-based among the new queries) sees.</summary>
    public int LastKey(in AttentionShape shape, int t) => shape.Causal ? Past + t : Past + Queries - 1;
    /// <summary>The first position query t sees (a sliding window starts later).</summary>
    public int FirstKey(in AttentionShape shape, int t) => shape.Causal && shape.SlidingWindow is int w ? Math.Max(0, Past + t - w) : 0;
}

/// <summary>
/// Scaled dot-product attention over a ragged batch. Causal attention lets query position i see keys j ≤ i (and
/// j ≥ i − W with a sliding window W, the Hugging Face 4.40 rule); bidirectional attention sees the whole sequence.
/// Query head h reads key/value head h / (heads / kvHeads), as repeat_kv does.
/// </summary>
public static unsafe class Attention
{
    private const int QueriesPerPart = 16;
    /// <summary>From this many new queries of a sequence on, they run as blocks (prefill, encoders); fewer go one by one (decode).</summary>
    internal const int BlockMinQueries = 8;

    public static void Run(WorkerPool pool, AttentionSequence[] sequences, float* q, int qStride, float* output, int outStride, AttentionShape shape)
    {
        bool use512 = Simd.Use512;
        bool blocks = QueryBlockAttention.Fits(shape.HeadDim, use512 ? Simd512.Lanes : Simd256.Lanes);
        var parts = new List<(int Sequence, int Head, int FirstQuery, int Count, bool Block)>();
        for (int s = 0; s < sequences.Length; s++)
        {
            bool block = blocks && sequences[s].Queries >= BlockMinQueries;
            int step = block ? QueryBlockAttention.MaxQueries : QueriesPerPart;
            for (int h = 0; h < shape.Heads; h++)
                for (int t = 0; t < sequences[s].Queries; t += step)
                    parts.Add((s, h, t, Math.Min(step, sequences[s].Queries - t), block));
        }
        pool.For(parts.Count, i =>
        {
            var (s, h, t0, count, block) = parts[i];
            var seq = sequences[s];
            if (block && use512) QueryBlockAttention.Run<Simd512, Vector512<float>>(seq, h, t0, count, q, qStride, output, outStride, shape);
            else if (block) QueryBlockAttention.Run<Simd256, Vector256<float>>(seq, h, t0, count, q, qStride, output, outStride, shape);
            else
                for (int t = t0; t < t0 + count; t++) AttendOne(seq, h, t, q, qStride, output, outStride, shape);
        });
    }

    private static void AttendOne(in AttentionSequence seq, int head, int t, float* q, int qStride, float* output, int outStride, in AttentionShape shape)
    {
        int d = shape.HeadDim, stride = seq.Stride(shape);
        int first = seq.FirstKey(shape, t), count = seq.LastKey(shape, t) - first + 1;
        int kvOffset = head / shape.GroupSize * d;
        float* query = q + (long)(seq.FirstRow + t) * qStride + head * d;
        float* result = output + (long)(seq.FirstRow + t) * outStride + head * d;
        float* keys = seq.Keys + (long)first * stride + kvOffset;
        float* values = seq.Values + (long)first * stride + kvOffset;

        float[]? rented = count > 4096 ? new float[count] : null;
        Span<float> scores = rented ?? stackalloc float[count];
        fixed (float* s = scores)
        {
            if (Simd.Use512 && d % 16 == 0) Attend<Simd512, Vector512<float>>(query, keys, values, stride, d, count, shape.Scale, shape.SoftCap, s, result);
            else if (d % 8 == 0) Attend<Simd256, Vector256<float>>(query, keys, values, stride, d, count, shape.Scale, shape.SoftCap, s, result);
            else AttendScalar(query, keys, values, stride, d, count, shape.Scale, shape.SoftCap, scores, result);
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
