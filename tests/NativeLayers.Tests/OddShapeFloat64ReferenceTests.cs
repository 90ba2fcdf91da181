using NativeLayers.Backends;
using NativeLayers.Loading;
using NativeLayers.Tests.Reference;

namespace NativeLayers.Tests;

/// <summary>
/// Every backend's norms, activations and attention against float64 references on odd shapes: widths 1, 7, 33 and
/// 130, strided rows, grouped query heads (GQA and MQA) with odd head dims, sliding windows, soft-capping and cached
/// positions crossing the GPU kernel's 16-key tiles and the CPU backend's query blocks.
/// </summary>
public sealed class OddShapeFloat64ReferenceTests
{
    private static float[] Random(Random random, int n, double scale = 1) =>
        Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();

    private static void Close(double[] expected, float[] actual, string what, float tolerance) =>
        SharedData.AssertClose(expected.Select(x => (float)x).ToArray(), actual, what, tolerance, tolerance);

    public static TheoryData<string, int> DevicesAndWidths()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in TestDevices.All)
            foreach (int width in new[] { 1, 7, 33, 130 }) data.Add(device, width);
        return data;
    }

    [Theory]
    [MemberData(nameof(DevicesAndWidths))]
    public void NormsOfStridedRowsMatchFloat64AndLeaveTheOtherColumns(string device, int width)
    {
        using var backend = TestBackends.Create(device);
        var random = new Random(width);
        const int rows = 3, offset = 5;
        int stride = width + 9;
        foreach (var (kind, withBias) in new[] { (NormKind.RmsNorm, false), (NormKind.LayerNorm, false), (NormKind.LayerNorm, true) })
            foreach (bool strided in new[] { false, true })
            {
                int rowStride = strided ? stride : width, start = strided ? offset : 0;
                var x = Random(random, rows * rowStride + start, 4);
                var norm = new NormWeights(new PinnedBuffer(Random(random, width, 2)), withBias ? new PinnedBuffer(Random(random, width)) : null);
                float eps = kind == NormKind.RmsNorm ? 1e-6f : 1e-5f;
                var expected = x.Select(v => (double)v).ToArray();
                for (int r = 0; r < rows; r++)
                {
                    var row = Enumerable.Range(0, width).Select(c => (double)x[start + r * rowStride + c]).ToArray();
                    double mean = kind == NormKind.LayerNorm ? row.Average() : 0;
                    double variance = row.Sum(v => (v - mean) * (v - mean)) / width;
                    for (int c = 0; c < width; c++)
                        expected[start + r * rowStride + c] = (row[c] - mean) / Math.Sqrt(variance + eps) * norm.Weight.Array[c] + (withBias ? norm.Bias!.Array[c] : 0);
                }
                using var values = TestBackends.Put(backend, x);
                var view = new BufferView(values, start);
                backend.Norm(kind, norm, eps, view, view, rows, width, strided ? stride : 0);
                Close(expected, TestBackends.Get(backend, values, x.Length), $"{device} {kind} bias={withBias} width={width} strided={strided}", 3e-5f);
            }
    }

    [Theory]
    [MemberData(nameof(DevicesAndWidths))]
    public void ActivationsAndGatedActivationsMatchFloat64(string device, int width)
    {
        using var backend = TestBackends.Create(device);
        var random = new Random(100 + width);
        const int rows = 3;
        int stride = width + 3;
        foreach (var activation in new[] { Activation.Silu, Activation.Gelu, Activation.GeluTanh, Activation.Relu, Activation.SoluLn })
        {
            // Values up to ±5 reach the tails of erf and tanh.
            var x = Random(random, rows * stride, 5);
            using var values = TestBackends.Put(backend, x);
            backend.Activate(activation, values, stride, rows, width);
            var expected = x.Select(v => (double)v).ToArray();
            for (int r = 0; r < rows; r++)
            {
                var row = x.Skip(r * stride).Take(width).Select(v => (double)v).ToArray();
                double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
                for (int c = 0; c < width; c++)
                    expected[r * stride + c] = activation == Activation.SoluLn ? row[c] * Math.Exp(row[c] - max) / sum : Float64Activations.Apply(activation, row[c]);
            }
            Close(expected, TestBackends.Get(backend, values, x.Length), $"{device} {activation} width={width}", 2e-5f);
            if (activation == Activation.SoluLn) continue;

            var fused = Random(random, rows * 2 * width, 5);
            using var fusedBuffer = TestBackends.Put(backend, fused);
            using var gated = backend.Allocate(rows * width);
            backend.ActivateGated(activation, fusedBuffer, gated, rows, width);
            var expectedGated = new double[rows * width];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < width; c++)
                    expectedGated[r * width + c] = Float64Activations.Apply(activation, fused[r * 2 * width + c]) * fused[r * 2 * width + width + c];
            Close(expectedGated, TestBackends.Get(backend, gated, rows * width), $"{device} gated {activation} width={width}", 5e-5f);
        }
    }

    public static TheoryData<string, int, int, int, bool, int, float, int, int> AttentionCases()
    {
        var data = new TheoryData<string, int, int, int, bool, int, float, int, int>();
        foreach (var device in TestDevices.All)
        {
            // device, heads, kv heads, head dim, causal, window (−1: none), soft cap, cached, new queries
            data.Add(device, 6, 2, 7, true, -1, 0, 0, 5);     // GQA 3, odd head dim, prefill
            data.Add(device, 3, 1, 12, true, 4, 0, 14, 3);    // MQA, sliding window over cached keys crossing a 16-key tile
            data.Add(device, 5, 5, 5, true, -1, 30f, 19, 1);  // decode, soft cap, odd head count and dim
            data.Add(device, 4, 2, 9, true, 6, 0.5f, 3, 10);  // window and a tight cap; 10 queries (a CPU query block)
            data.Add(device, 6, 3, 1, true, 0, 0, 2, 2);      // head dim 1, window 0: each query sees only itself
            data.Add(device, 2, 1, 33, false, -1, 0, 0, 7);   // bidirectional (encoder)
            data.Add(device, 8, 2, 4, false, -1, 5f, 0, 17);  // bidirectional over more than one key tile, capped
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void AttentionMatchesFloat64WithGroupedHeadsWindowsAndCaps(string device, int heads, int kvHeads, int headDim, bool causal,
        int window, float softCap, int cached, int queries)
    {
        using var backend = TestBackends.Create(device);
        var random = new Random(heads * 100 + headDim * 7 + cached);
        var shape = new AttentionShape(heads, kvHeads, headDim, 1f / MathF.Sqrt(headDim), causal, window < 0 ? null : window, softCap);
        int stride = shape.QkvStride, total = cached + queries;
        // Two sequences in one batch: the one under test and a 4-token sequence after it (so rows and caches are offset).
        var tokens = Random(random, total * stride, 2);
        var other = Random(random, 4 * stride, 2);
        var caches = new[] { backend.CreateKvCache(1, shape.KvStride, total), backend.CreateKvCache(1, shape.KvStride, 4) };
        try
        {
            float[] output = [];
            // The cached tokens go in first (causal only: a bidirectional sequence is one call), then the new ones.
            int[] chunks = causal && cached > 0 ? [cached, queries] : [total];
            int done = 0;
            foreach (int chunk in chunks)
            {
                var rows = new List<SequenceRows> { new(0, chunk, done), new(chunk, 4, 0) };
                var batch = new ForwardBatch(rows, caches);
                foreach (var (seq, cache) in rows.Zip(caches)) cache.EnsureCapacity(seq.FirstPosition + seq.Count);
                var qkv = tokens.AsSpan(done * stride, chunk * stride).ToArray().Concat(other).ToArray();
                using var qkvBuffer = TestBackends.Put(backend, qkv);
                using var outputBuffer = backend.Allocate(batch.Rows * shape.QueryWidth);
                backend.RotateAndAppend(batch, 0, qkvBuffer, shape, 0, null);
                backend.Attention(batch, 0, qkvBuffer, shape, outputBuffer);
                caches[0].Length += chunk;
                caches[1].Length = 0; // the second sequence is new in every call
                output = TestBackends.Get(backend, outputBuffer, batch.Rows * shape.QueryWidth);
                done += chunk;
            }
            int last = chunks[^1];
            var expected = Reference(tokens, total, shape).Skip((total - last) * shape.QueryWidth).Concat(Reference(other, 4, shape)).ToArray();
            Close(expected, output, $"{device} attention {heads}/{kvHeads}×{headDim} causal={causal} window={window} cap={softCap} cached={cached} queries={queries}", 1e-4f);
        }
        finally
        {
            foreach (var cache in caches) cache.Dispose();
        }
    }

    /// <summary>softmax(mask(cap(scale · q·k))) · v per query head, with query head h reading kv head h / (heads / kv heads).</summary>
    private static double[] Reference(float[] qkv, int tokens, AttentionShape shape)
    {
        int stride = shape.QkvStride, hd = shape.HeadDim, group = shape.Heads / shape.KvHeads;
        double Q(int t, int h, int i) => qkv[t * stride + h * hd + i];
        double K(int t, int g, int i) => qkv[t * stride + shape.QueryWidth + g * hd + i];
        double V(int t, int g, int i) => qkv[t * stride + shape.QueryWidth + shape.KvStride + g * hd + i];
        var output = new double[tokens * shape.QueryWidth];
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < shape.Heads; h++)
            {
                int g = h / group;
                var visible = Enumerable.Range(0, tokens)
                    .Where(j => !shape.Causal || j <= t && (shape.SlidingWindow is not { } w || j >= t - w)).ToArray();
                var scores = visible.Select(j =>
                {
                    double s = Enumerable.Range(0, hd).Sum(i => Q(t, h, i) * K(j, g, i)) / Math.Sqrt(hd);
                    return shape.SoftCap > 0 ? shape.SoftCap * Math.Tanh(s / shape.SoftCap) : s;
                }).ToArray();
                double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                for (int i = 0; i < hd; i++)
                    output[t * shape.QueryWidth + h * hd + i] = visible.Select((j, n) => Math.Exp(scores[n] - max) / sum * V(j, g, i)).Sum();
            }
        return output;
    }
}
