using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.Backends.Gpu;
using NativeLayers.Loading;
using NativeLayers.Tests.Reference;

namespace NativeLayers.Tests;

/// <summary>
/// The op interface every backend implements, checked op by op against float64 references on random shapes with odd
/// sizes, strides and offsets, for each provider (the SIMD CPU backend and the ILGPU kernels on ILGPU's CPU accelerator).
/// </summary>
public sealed unsafe class BackendContractTests
{
    private const float Tolerance = 2e-5f;

    private static IComputeBackend Create(string device) => TestBackends.Create(device);

    private static float[] Random(Random random, int n, double scale = 1) =>
        Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();

    private static BackendBuffer Put(IComputeBackend backend, float[] values) => TestBackends.Put(backend, values);

    private static float[] Get(IComputeBackend backend, BufferView view, int length) => TestBackends.Get(backend, view, length);

    private static void Close(double[] expected, float[] actual, string what, float tolerance = Tolerance) =>
        SharedData.AssertClose(expected.Select(x => (float)x).ToArray(), actual, what, tolerance, tolerance);

    /// <summary>A weight matrix in pinned memory, in the given dtype, and the float values it really holds (after rounding).</summary>
    private static (WeightMatrix Matrix, double[] Values) Weights(Random random, int rows, int cols, DType dtype, List<byte[]> keepAlive)
    {
        var values = Random(random, rows * cols);
        var bytes = GC.AllocateArray<byte>(rows * cols * dtype.SizeOf(), pinned: true);
        keepAlive.Add(bytes);
        var exact = new double[values.Length];
        fixed (byte* p = bytes)
            for (int i = 0; i < values.Length; i++)
                switch (dtype)
                {
                    case DType.F32: ((float*)p)[i] = values[i]; exact[i] = values[i]; break;
                    case DType.F16: ((Half*)p)[i] = (Half)values[i]; exact[i] = (double)(Half)values[i]; break;
                    default:
                        ushort bits = (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16);
                        ((ushort*)p)[i] = bits;
                        exact[i] = BitConverter.UInt32BitsToSingle((uint)bits << 16);
                        break;
                }
        fixed (byte* p = bytes) return (new WeightMatrix(p, dtype, rows, cols), exact);
    }

    public static TheoryData<string, DType> DevicesAndDTypes()
    {
        var data = new TheoryData<string, DType>();
        foreach (var device in TestDevices.All)
            foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 }) data.Add(device, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(DevicesAndDTypes))]
    public void GatherScalesAndAccumulatesTableRows(string device, DType dtype)
    {
        using var backend = Create(device);
        var random = new Random(1);
        var keep = new List<byte[]>();
        var (table, values) = Weights(random, 13, 37, dtype, keep);
        int[] ids = [0, 12, 5, 5, 7];
        var start = Random(random, ids.Length * 37);
        foreach (bool accumulate in new[] { false, true })
        {
            using var output = Put(backend, start);
            backend.Gather(table, ids, output, 1.7f, accumulate);
            var expected = new double[start.Length];
            for (int t = 0; t < ids.Length; t++)
                for (int c = 0; c < 37; c++)
                    expected[t * 37 + c] = (accumulate ? start[t * 37 + c] : 0) + 1.7 * values[ids[t] * 37 + c];
            Close(expected, Get(backend, output, start.Length), $"{device} {dtype} gather accumulate={accumulate}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void NormsMatchTheirDefinitions(string device)
    {
        using var backend = Create(device);
        var random = new Random(2);
        foreach (var (rows, width) in new[] { (5, 37), (40, 65), (1, 8) })
            foreach (var kind in new[] { NormKind.RmsNorm, NormKind.LayerNorm })
                foreach (bool withBias in new[] { false, true })
                {
                    if (kind == NormKind.RmsNorm && withBias) continue;
                    var x = Random(random, rows * width, 3);
                    var norm = new NormWeights(new PinnedBuffer(Random(random, width)), withBias ? new PinnedBuffer(Random(random, width)) : null);
                    const float eps = 1e-5f;
                    var expected = new double[x.Length];
                    for (int r = 0; r < rows; r++)
                    {
                        var row = x.Skip(r * width).Take(width).Select(v => (double)v).ToArray();
                        double mean = kind == NormKind.LayerNorm ? row.Average() : 0;
                        double variance = row.Select(v => (v - mean) * (v - mean)).Average();
                        for (int c = 0; c < width; c++)
                            expected[r * width + c] = (row[c] - mean) / Math.Sqrt(variance + eps) * norm.Weight.Array[c] + (withBias ? norm.Bias!.Array[c] : 0);
                    }
                    using var input = Put(backend, x);
                    using var output = backend.Allocate(x.Length);
                    backend.Norm(kind, norm, eps, input, output, rows, width);
                    Close(expected, Get(backend, output, x.Length), $"{device} {kind} bias={withBias} [{rows}, {width}]");
                    backend.Norm(kind, norm, eps, input, input, rows, width);
                    Close(expected, Get(backend, input, x.Length), $"{device} {kind} in place");
                }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void StridedNormsTouchOnlyTheirColumns(string device)
    {
        // One head of fused [q | k | v] rows: 6 rows of 40 floats, RMSNorm over columns 16..23 (qk-norm per head).
        using var backend = Create(device);
        var random = new Random(9);
        int rows = 6, stride = 40, offset = 16, width = 8;
        var x = Random(random, rows * stride, 2);
        var norm = new NormWeights(new PinnedBuffer(Random(random, width)), null);
        var expected = x.Select(v => (double)v).ToArray();
        for (int r = 0; r < rows; r++)
        {
            var head = x.Skip(r * stride + offset).Take(width).Select(v => (double)v).ToArray();
            double rms = Math.Sqrt(head.Select(v => v * v).Average() + 1e-6);
            for (int c = 0; c < width; c++) expected[r * stride + offset + c] = head[c] / rms * norm.Weight.Array[c];
        }
        using var values = Put(backend, x);
        backend.Norm(NormKind.RmsNorm, norm, 1e-6f, new BufferView(values, offset), new BufferView(values, offset), rows, width, stride);
        Close(expected, Get(backend, values, x.Length), $"{device} strided RMSNorm");
    }

    [Theory]
    [MemberData(nameof(DevicesAndDTypes))]
    public void LinearLayersMatchAFloat64MatMul(string device, DType dtype)
    {
        using var backend = Create(device);
        var random = new Random(3);
        var keep = new List<byte[]>();
        int inFeatures = 37, xStride = 41, yStride = 35;
        var (first, firstValues) = Weights(random, 19, inFeatures, dtype, keep);
        var (second, secondValues) = Weights(random, 11, inFeatures, dtype, keep);
        var weights = firstValues.Concat(secondValues).ToArray();
        int outFeatures = 30;
        var bias = Random(random, outFeatures);
        var folded = Random(random, outFeatures);
        var layer = new Linear([first, second], new PinnedBuffer(bias));
        foreach (int rows in new[] { 1, 3, 17, 40 })
            foreach (var (accumulate, useFolded) in new[] { (false, false), (true, false), (false, true) })
            {
                var x = Random(random, rows * xStride);
                var y0 = Random(random, rows * yStride);
                using var input = Put(backend, x);
                using var output = Put(backend, y0);
                using var foldedBias = Put(backend, folded);
                backend.Linear(layer, input, xStride, rows, output, yStride, accumulate, useFolded ? foldedBias : null);
                var expected = y0.Select(v => (double)v).ToArray();
                for (int t = 0; t < rows; t++)
                    for (int o = 0; o < outFeatures; o++)
                    {
                        double sum = useFolded ? folded[o] : bias[o];
                        for (int k = 0; k < inFeatures; k++) sum += x[t * xStride + k] * weights[o * inFeatures + k];
                        expected[t * yStride + o] = (accumulate ? y0[t * yStride + o] : 0) + sum;
                    }
                Close(expected, Get(backend, output, y0.Length), $"{device} {dtype} linear rows={rows} accumulate={accumulate} folded={useFolded}", 1e-4f);
            }
    }

    public static TheoryData<string, int, bool, int, float> AttentionCases()
    {
        var data = new TheoryData<string, int, bool, int, float>();
        foreach (var device in TestDevices.All)
        {
            data.Add(device, 8, true, -1, 0);   // full rotary, causal
            data.Add(device, 4, true, 2, 0);    // partial rotary, sliding window
            data.Add(device, 0, false, -1, 0);  // no rotary, bidirectional
            data.Add(device, 8, true, 3, 0.7f); // soft-capped scores (Gemma 2) with a window
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void RotaryCacheAppendAndAttentionMatchAFloat64Reference(string device, int rotaryDim, bool causal, int window, float softCap)
    {
        using var backend = Create(device);
        var random = new Random(4);
        var shape = new AttentionShape(Heads: 4, KvHeads: 2, HeadDim: 8, Scale: 1f / MathF.Sqrt(8), causal, window < 0 ? null : window, softCap);
        var rope = rotaryDim > 0 ? new RopeTable(rotaryDim, 10000, null, 16) : null;
        int stride = shape.QkvStride;
        // Sequence A: 3 cached tokens, then 4 new ones; sequence B: 5 new tokens (bidirectional: B only, in one call).
        int[] lengthsA = causal ? [3, 4] : [7];
        var all = new[] { Random(random, 7 * stride), Random(random, 5 * stride) };
        var caches = new[] { backend.CreateKvCache(1, shape.KvStride, 2), backend.CreateKvCache(1, shape.KvStride, 2) };
        float[] lastOutput = [];
        int done = 0;
        foreach (int chunk in lengthsA)
        {
            bool withB = chunk == lengthsA[^1];
            var rows = new List<SequenceRows> { new(0, chunk, done) };
            if (withB) rows.Add(new SequenceRows(chunk, 5, 0));
            var batch = new ForwardBatch(rows, withB ? caches : [caches[0]]);
            foreach (var (seq, cache) in rows.Zip(batch.Caches)) cache.EnsureCapacity(seq.FirstPosition + seq.Count);
            var qkv = all[0].AsSpan(done * stride, chunk * stride).ToArray().Concat(withB ? all[1] : []).ToArray();
            using var qkvBuffer = Put(backend, qkv);
            using var output = backend.Allocate(batch.Rows * shape.QueryWidth);
            backend.RotateAndAppend(batch, 0, qkvBuffer, shape, rotaryDim, rope);
            backend.Attention(batch, 0, qkvBuffer, shape, output);
            foreach (var (seq, cache) in rows.Zip(batch.Caches)) cache.Length += seq.Count;
            lastOutput = Get(backend, output, batch.Rows * shape.QueryWidth);
            done += chunk;
        }
        int newA = lengthsA[^1];
        var expected = ReferenceAttention(all[0], 7, shape, rotaryDim, rope).Skip((7 - newA) * shape.QueryWidth)
            .Concat(ReferenceAttention(all[1], 5, shape, rotaryDim, rope)).ToArray();
        Close(expected, lastOutput, $"{device} attention rotary={rotaryDim} causal={causal} window={window} cap={softCap}", 1e-4f);
        foreach (var cache in caches) cache.Dispose();
    }

    private static double[] ReferenceAttention(float[] qkv, int tokens, AttentionShape shape, int rotaryDim, RopeTable? rope)
    {
        int stride = shape.QkvStride, hd = shape.HeadDim;
        var rows = new double[tokens][];
        for (int t = 0; t < tokens; t++)
        {
            rows[t] = qkv.Skip(t * stride).Take(stride).Select(v => (double)v).ToArray();
            if (rope == null) continue;
            for (int h = 0; h < shape.Heads + shape.KvHeads; h++)
            {
                int at = h < shape.Heads ? h * hd : shape.QueryWidth + (h - shape.Heads) * hd;
                int half = rotaryDim / 2;
                var original = rows[t].Skip(at).Take(rotaryDim).ToArray();
                for (int i = 0; i < half; i++)
                {
                    double cos = rope.Cos(t)[i], sin = rope.Sin(t)[i];
                    rows[t][at + i] = original[i] * cos - original[i + half] * sin;
                    rows[t][at + i + half] = original[i + half] * cos + original[i] * sin;
                }
            }
        }
        var output = new double[tokens * shape.QueryWidth];
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < shape.Heads; h++)
            {
                int kvHead = h / shape.GroupSize;
                int from = !shape.Causal ? 0 : shape.SlidingWindow is { } w ? Math.Max(0, t - w) : 0;
                int to = shape.Causal ? t : tokens - 1;
                var scores = new double[to - from + 1];
                for (int j = from; j <= to; j++)
                {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += rows[t][h * hd + i] * rows[j][shape.QueryWidth + kvHead * hd + i];
                    double s = dot * shape.Scale;
                    scores[j - from] = shape.SoftCap > 0 ? shape.SoftCap * Math.Tanh(s / shape.SoftCap) : s;
                }
                double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                for (int j = from; j <= to; j++)
                {
                    double p = Math.Exp(scores[j - from] - max) / sum;
                    for (int i = 0; i < hd; i++)
                        output[t * shape.QueryWidth + h * hd + i] += p * rows[j][shape.QueryWidth + shape.KvStride + kvHead * hd + i];
                }
            }
        return output;
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void ActivationsMatchTheirDefinitions(string device)
    {
        using var backend = Create(device);
        var random = new Random(5);
        int rows = 3, width = 37, stride = 40;
        foreach (var activation in new[] { Activation.Silu, Activation.Gelu, Activation.GeluTanh, Activation.Relu, Activation.SoluLn })
        {
            var x = Random(random, rows * stride, 3);
            using var values = Put(backend, x);
            backend.Activate(activation, values, stride, rows, width);
            var expected = x.Select(v => (double)v).ToArray();
            for (int r = 0; r < rows; r++)
            {
                var row = x.Skip(r * stride).Take(width).Select(v => (double)v).ToArray();
                double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
                for (int c = 0; c < width; c++)
                    expected[r * stride + c] = activation == Activation.SoluLn ? row[c] * Math.Exp(row[c] - max) / sum : Float64Activations.Apply(activation, row[c]);
            }
            Close(expected, Get(backend, values, x.Length), $"{device} {activation}", 1e-5f);

            if (activation == Activation.SoluLn) continue;
            var fused = Random(random, rows * 2 * width, 3);
            using var fusedBuffer = Put(backend, fused);
            using var gated = backend.Allocate(rows * width);
            backend.ActivateGated(activation, fusedBuffer, gated, rows, width);
            var expectedGated = new double[rows * width];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < width; c++)
                    expectedGated[r * width + c] = Float64Activations.Apply(activation, fused[r * 2 * width + c]) * fused[r * 2 * width + width + c];
            Close(expectedGated, Get(backend, gated, rows * width), $"{device} gated {activation}", 1e-5f);
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void ResidualAddsTakeDeltasAndPerRowSteeringTables(string device)
    {
        using var backend = Create(device);
        var random = new Random(6);
        int rows = 5, width = 37;
        var residual = Random(random, rows * width);
        var delta = Random(random, rows * width);
        var vectors = Random(random, 2 * width);
        int[] indices = [0, -1, 1, 0, -1, -1, 1, 1, 0, -1];
        float[] coefficients = [2, 0, -1, 0.5f, 0, 0, 3, -3, 1, 0];
        var steering = new RowSteering(indices, coefficients, vectors, Entries: 2);
        foreach (bool withDelta in new[] { false, true })
            foreach (bool inPlace in new[] { false, true })
            {
                using var r = Put(backend, residual);
                using var d = Put(backend, delta);
                using var separate = backend.Allocate(rows * width);
                var target = inPlace ? r : separate;
                backend.ResidualAdd(target, r, withDelta ? new BufferView(d) : (BufferView?)null, steering, rows, width);
                var expected = new double[rows * width];
                for (int row = 0; row < rows; row++)
                    for (int c = 0; c < width; c++)
                    {
                        double v = residual[row * width + c] + (withDelta ? delta[row * width + c] : 0);
                        for (int e = 0; e < 2; e++)
                            if (indices[row * 2 + e] >= 0) v += coefficients[row * 2 + e] * vectors[indices[row * 2 + e] * width + c];
                        expected[row * width + c] = v;
                    }
                Close(expected, Get(backend, target, rows * width), $"{device} residual add delta={withDelta} in place={inPlace}");
            }
        using var source = Put(backend, residual);
        using var copy = backend.Allocate(rows * width);
        backend.ResidualAdd(copy, source, null, null, rows, width);
        Assert.Equal(residual, Get(backend, copy, rows * width));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void ProjectOutAndRowGatherTouchOnlyTheListedRows(string device)
    {
        using var backend = Create(device);
        var random = new Random(7);
        int rows = 6, width = 37;
        var x = Random(random, rows * width);
        var direction = Random(random, width);
        int[] changed = [1, 4, 5];
        using var values = Put(backend, x);
        backend.ProjectOut(values, width, direction, changed);
        double norm2 = direction.Sum(v => (double)v * v);
        var expected = x.Select(v => (double)v).ToArray();
        foreach (int r in changed)
        {
            double dot = 0;
            for (int c = 0; c < width; c++) dot += x[r * width + c] * (double)direction[c];
            for (int c = 0; c < width; c++) expected[r * width + c] -= dot / norm2 * direction[c];
        }
        var projected = Get(backend, values, x.Length);
        Close(expected, projected, $"{device} project out");

        int[] picked = [5, 0, 5, 2];
        using var gathered = backend.Allocate(picked.Length * width);
        backend.GatherRows(values, width, picked, gathered);
        Assert.Equal(picked.SelectMany(r => projected.Skip(r * width).Take(width)).ToArray(), Get(backend, gathered, picked.Length * width));

        // Experts' outputs back into their tokens' rows, weighted; then a cleared buffer is all zeros.
        int[] targets = [4, 1, 3];
        float[] weights = [0.25f, -2f, 0.5f];
        var sources = Random(random, targets.Length * width);
        using var sourceBuffer = Put(backend, sources);
        backend.ScatterAddRows(sourceBuffer, width, targets, weights, values);
        var scattered = projected.Select(v => (double)v).ToArray();
        for (int i = 0; i < targets.Length; i++)
            for (int c = 0; c < width; c++) scattered[targets[i] * width + c] += weights[i] * (double)sources[i * width + c];
        Close(scattered, Get(backend, values, x.Length), $"{device} scatter add");
        backend.Clear(values, x.Length);
        Assert.All(Get(backend, values, x.Length), v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void BuffersRoundTripAndOnlyHostBackendsWrapHostMemory(string device)
    {
        using var backend = Create(device);
        var values = Random(new Random(8), 29);
        using var buffer = Put(backend, values);
        Assert.Equal(values[3..], Get(backend, new BufferView(buffer, 3), 26));
        var host = new PinnedBuffer(values);
        var wrapped = backend.WrapHost(host);
        Assert.Equal(device == TestDevices.Cpu, wrapped != null);
        if (wrapped == null) return;
        backend.Upload([42f], new BufferView(wrapped!, 2));
        Assert.Equal(42f, host.Array[2]);
    }

    [Fact]
    public void ExpertRoutingIsTopKOfTheSoftmaxRenormalised()
    {
        var random = new Random(10);
        int rows = 9, experts = 5, k = 2;
        var logits = Random(random, rows * experts, 3);
        var routing = Runtime.ForwardPass.ExpertRouting.Route(logits, rows, experts, k);
        for (int r = 0; r < rows; r++)
        {
            var p = logits.Skip(r * experts).Take(experts).Select(z => Math.Exp(z)).ToArray();
            double total = p.Sum();
            var top = p.Select((v, e) => (P: v / total, E: e)).OrderByDescending(t => t.P).Take(k).ToArray();
            double kept = top.Sum(t => t.P);
            Assert.Equal(top.Select(t => t.E), routing.Chosen.Skip(r * k).Take(k));
            foreach (var (prob, e) in top)
            {
                int at = Array.IndexOf(routing.Rows[e], r);
                Assert.True(at >= 0, $"row {r} missing from expert {e}");
                Assert.Equal(prob / kept, routing.Weights[e][at], 5);
            }
        }
        Assert.Equal(rows * k, routing.Rows.Sum(list => list.Length));
    }
}
