using System.Runtime.InteropServices;
using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;

namespace NativeLayers.Tests;

/// <summary>CPU kernels against plain double-precision references, on both vector widths.</summary>
[Collection("SimdWidth")]
public unsafe class CpuKernelTests
{
    public static TheoryData<DType, int, int, int, bool> MatMulCases()
    {
        var data = new TheoryData<DType, int, int, int, bool>();
        foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 })
            foreach (var (rows, outFeatures, inFeatures) in new[] { (1, 7, 5), (1, 64, 64), (2, 100, 70), (3, 37, 172), (4, 33, 31), (5, 64, 64), (6, 17, 200), (7, 40, 9), (8, 20, 80), (13, 129, 47), (16, 35, 33), (33, 64, 100), (20, 96, 48) })
                foreach (bool use512 in new[] { true, false })
                    data.Add(dtype, rows, outFeatures, inFeatures, use512);
        return data;
    }

    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMulMatchesDoubleReference(DType dtype, int rows, int outFeatures, int inFeatures, bool use512)
    {
        var random = new Random(rows * 1000 + outFeatures);
        float[] x = RandomValues(random, rows * inFeatures);
        float[] bias = RandomValues(random, outFeatures);
        float[] weights = RandomValues(random, outFeatures * inFeatures);
        byte[] stored = Store(weights, dtype, out float[] exact);
        float[] y = RandomValues(random, rows * outFeatures);
        float[] before = (float[])y.Clone();

        bool previous = Simd.Use512;
        Simd.Use512 = use512 && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        try
        {
            using var pool = new WorkerPool(2);
            fixed (float* px = x, pb = bias, py = y)
            fixed (byte* pw = stored)
                MatMul.Run(pool, px, inFeatures, rows, new WeightMatrix(pw, dtype, outFeatures, inFeatures), pb, py, outFeatures, accumulate: true);
        }
        finally { Simd.Use512 = previous; }

        for (int t = 0; t < rows; t++)
            for (int o = 0; o < outFeatures; o++)
            {
                double expected = before[t * outFeatures + o] + bias[o];
                for (int k = 0; k < inFeatures; k++) expected += (double)x[t * inFeatures + k] * exact[o * inFeatures + k];
                Assert.True(Math.Abs(expected - y[t * outFeatures + o]) <= 1e-4 * (1 + Math.Abs(expected)),
                    $"y[{t},{o}] = {y[t * outFeatures + o]}, expected {expected}");
            }
    }

    [Fact]
    public void HalfConversionHandlesEveryBitPattern()
    {
        var bits = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        var converted = new float[bits.Length];
        foreach (bool use512 in new[] { true, false })
        {
            bool previous = Simd.Use512;
            Simd.Use512 = use512 && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
            try
            {
                fixed (ushort* pb = bits) fixed (float* pc = converted)
                    WeightConversion.ToFloat32((byte*)pb, DType.F16, pc, bits.Length);
            }
            finally { Simd.Use512 = previous; }
            for (int i = 0; i < bits.Length; i++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf(bits[i]);
                Assert.True(expected.Equals(converted[i]) || float.IsNaN(expected) && float.IsNaN(converted[i]),
                    $"0x{i:x4}: {converted[i]}, expected {expected}");
            }
        }
    }

    [Theory]
    [InlineData(2, true, null, 0)]
    [InlineData(8, true, 2, 0)]
    [InlineData(16, true, null, 3)]
    [InlineData(64, true, 3, 5)]
    [InlineData(20, false, null, 0)]
    [InlineData(64, false, null, 2)]
    // From 8 new queries on they run as query blocks (64 at most): whole, partial and several blocks.
    [InlineData(32, false, null, 0, 40)]
    [InlineData(32, true, null, 0, 70)]
    [InlineData(64, true, 5, 3, 20)]
    [InlineData(16, true, null, 2, 9)]
    [InlineData(32, false, null, 4, 13)]
    public void AttentionMatchesDoubleReference(int d, bool causal, int? window, int past, int queries = 6)
    {
        // 4 query heads sharing 2 kv heads; the new queries come after `past` cached positions.
        const int heads = 4, kvHeads = 2;
        int total = past + queries, kvStride = kvHeads * d, qStride = heads * d;
        var random = new Random(d * 7 + past);
        float[] q = RandomValues(random, queries * qStride), k = RandomValues(random, total * kvStride), v = RandomValues(random, total * kvStride);
        float[] output = new float[queries * qStride];
        float scale = 1f / MathF.Sqrt(d);
        foreach (bool use512 in new[] { true, false })
        {
            bool previous = Simd.Use512;
            Simd.Use512 = use512 && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
            try
            {
                fixed (float* pq = q, pk = k, pv = v, po = output)
                    Attention.Run(WorkerPool.Default, [new AttentionSequence(0, queries, past, pk, pv)], pq, qStride, po, qStride,
                        new AttentionShape(heads, kvHeads, d, scale, causal, window));
            }
            finally { Simd.Use512 = previous; }
            for (int t = 0; t < queries; t++)
                for (int h = 0; h < heads; h++)
                {
                    int position = past + t, kv = h / (heads / kvHeads);
                    int first = causal && window is int w ? Math.Max(0, position - w) : 0, last = causal ? position : total - 1;
                    var scores = Enumerable.Range(first, last - first + 1)
                        .Select(j => scale * Enumerable.Range(0, d).Sum(i => (double)q[t * qStride + h * d + i] * k[j * kvStride + kv * d + i])).ToArray();
                    double max = scores.Max(), sum = scores.Sum(x => Math.Exp(x - max));
                    for (int i = 0; i < d; i++)
                    {
                        double expected = Enumerable.Range(0, scores.Length).Sum(j => Math.Exp(scores[j] - max) / sum * v[(first + j) * kvStride + kv * d + i]);
                        Assert.True(Math.Abs(expected - output[t * qStride + h * d + i]) < 1e-5, $"t {t} head {h} dim {i}: {output[t * qStride + h * d + i]} vs {expected}");
                    }
                }
        }
    }

    [Fact]
    public void SamplingFiltersAndIsReproducible()
    {
        float[] logits = [2f, 1f, 0.5f, -1f, 3f];
        Assert.Equal(4, Sampling.Argmax(logits));
        Assert.Equal(4, Sampling.Sample(logits, 0f, 0, 1f, new Random(1)));
        // top-k 1 is greedy whatever the temperature
        for (int s = 0; s < 20; s++) Assert.Equal(4, Sampling.Sample(logits, 5f, 1, 1f, new Random(s)));
        // top-p keeps the smallest set reaching p: here the two most probable tokens
        var seen = new HashSet<int>();
        for (int s = 0; s < 200; s++) seen.Add(Sampling.Sample(logits, 1f, 0, 0.8f, new Random(s)));
        Assert.Equal(new HashSet<int> { 0, 4 }, seen);
        var first = Enumerable.Range(0, 50).Select(s => Sampling.Sample(logits, 1f, 0, 1f, new Random(s))).ToArray();
        var again = Enumerable.Range(0, 50).Select(s => Sampling.Sample(logits, 1f, 0, 1f, new Random(s))).ToArray();
        Assert.Equal(first, again);
    }

    [Fact]
    public void TopKKeepsTheKMostProbableWithTiesToTheLowerId()
    {
        float[] logits = [1f, 3f, 0f, 3f, 2f, -1f];
        var seen = new HashSet<int>();
        for (int s = 0; s < 300; s++) seen.Add(Sampling.Sample(logits, 1f, 3, 1f, new Random(s)));
        Assert.Equal(new HashSet<int> { 1, 3, 4 }, seen);
        var two = new HashSet<int>();
        for (int s = 0; s < 300; s++) two.Add(Sampling.Sample(logits, 1f, 2, 1f, new Random(s)));
        Assert.Equal(new HashSet<int> { 1, 3 }, two);
        Assert.Equal(1, Sampling.Sample(logits, 1f, 1, 1f, new Random(0))); // tie between 1 and 3: the lower id
    }

    [Fact]
    public void WorkerPoolRunsEveryPartOnceAndPropagatesErrors()
    {
        using var pool = new WorkerPool(3);
        for (int round = 0; round < 200; round++)
        {
            var hits = new int[round % 17 + 1];
            pool.For(hits.Length, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
        var error = Assert.Throws<InvalidOperationException>(() => pool.For(8, i => { if (i == 5) throw new InvalidOperationException("part 5"); }));
        Assert.Equal("part 5", error.Message);
    }

    [Fact]
    public void WorkerPoolIsSafeToShareBetweenThreads()
    {
        using var pool = new WorkerPool(2);
        var totals = new long[4];
        Parallel.For(0, 4, caller =>
        {
            for (int round = 0; round < 300; round++)
                pool.For(7, part => Interlocked.Add(ref totals[caller], part + 1));
        });
        Assert.All(totals, t => Assert.Equal(300 * 28, t));
    }

    [Fact]
    public void GeluAndErfMatchReferenceValues()
    {
        float[] erf = [1f, -0.5f];
        Activations.Erf(erf, erf);
        Assert.Equal(0.8427007929, erf[0], 6);
        Assert.Equal(-0.5204998778, erf[1], 6);
        Span<float> exact = [1f, -1f, 2.5f];
        Activations.Apply(Activation.Gelu, exact);
        Assert.Equal(0.8413447461, exact[0], 5);
        Assert.Equal(-0.1586552539, exact[1], 5);
        // Exact GELU(2.5) = 1.25 · (1 + erf(2.5/√2)) = 2.48447583...; the A&S erf is good to 1.5e-7, so 3e-7 here.
        Assert.InRange(exact[2], 2.4844758 - 3e-7, 2.4844758 + 3e-7);
    }

    [Fact]
    public void SoluIsXTimesSoftmaxOfTheRow()
    {
        Span<float> row = [1f, 2f, 3f];
        Activations.Apply(Activation.SoluLn, row);
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.Equal(1 * Math.Exp(1) / z, row[0], 6);
        Assert.Equal(2 * Math.Exp(2) / z, row[1], 6);
        Assert.Equal(3 * Math.Exp(3) / z, row[2], 6);
    }

    private static float[] RandomValues(Random random, int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    /// <summary>Stores float weights in a dtype and returns the exact values that dtype holds.</summary>
    private static byte[] Store(float[] weights, DType dtype, out float[] exact)
    {
        switch (dtype)
        {
            case DType.F16:
                var halves = weights.Select(w => (Half)w).ToArray();
                exact = halves.Select(h => (float)h).ToArray();
                return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
            case DType.BF16:
                var bf = weights.Select(w => (ushort)(BitConverter.SingleToInt32Bits(w) >> 16)).ToArray();
                exact = bf.Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray();
                return MemoryMarshal.AsBytes(bf.AsSpan()).ToArray();
            default:
                exact = weights;
                return MemoryMarshal.AsBytes(weights.AsSpan()).ToArray();
        }
    }
}

[CollectionDefinition("SimdWidth", DisableParallelization = true)]
public class SimdWidthCollection;
