using NativeLayers.Backends.Cpu;

namespace NativeLayers.Tests;

/// <summary>
/// Softmax and token sampling against float64: the distribution each (temperature, top-k, top-p) draws from is measured
/// exactly by feeding the sampler every quantile u of a fine grid (a <see cref="Random"/> whose NextDouble returns u), so
/// the share of the grid each token gets is its probability, with no statistical tolerance.
/// </summary>
public sealed class SamplingFloat64ReferenceTests
{
    /// <summary>A "random" source that returns the given value.</summary>
    private sealed class Quantile(double u) : Random
    {
        public override double NextDouble() => u;
    }

    private static float[] Logits(int n, int seed, double scale)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    /// <summary>Hugging Face's order: softmax(logits / T), keep the k most probable (ties: lower id), then the smallest
    /// prefix of them whose mass reaches p (the first always kept), renormalised.</summary>
    private static double[] ReferenceDistribution(float[] logits, double temperature, int topK, double topP)
    {
        var scaled = logits.Select(z => z / temperature).ToArray();
        double max = scaled.Max();
        var p = scaled.Select(z => Math.Exp(z - max)).ToArray();
        double total = p.Sum();
        p = p.Select(v => v / total).ToArray();
        var order = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).ToList();
        if (topK > 0) order = order.Take(topK).ToList();
        if (topP < 1)
        {
            double cumulative = 0;
            int keep = order.Count;
            for (int i = 0; i < order.Count; i++)
            {
                cumulative += p[order[i]];
                if (cumulative >= topP) { keep = i + 1; break; }
            }
            order = order.Take(keep).ToList();
        }
        double kept = order.Sum(i => p[i]);
        var result = new double[p.Length];
        foreach (int i in order) result[i] = p[i] / kept;
        return result;
    }

    public static TheoryData<int, float, int, float> Cases()
    {
        var data = new TheoryData<int, float, int, float>();
        foreach (int vocab in new[] { 1, 7, 33, 130 })
            foreach (var (t, k, p) in new (float, int, float)[] { (1f, 0, 1f), (0.6f, 0, 1f), (1.7f, 0, 1f), (1f, 5, 1f), (0.8f, 0, 0.7f), (1.3f, 20, 0.9f), (1f, 1, 1f), (2f, 3, 0.5f) })
                data.Add(vocab, t, k, p);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SamplerDrawsTheFloat64FilteredDistribution(int vocab, float temperature, int topK, float topP)
    {
        var logits = Logits(vocab, vocab * 13 + topK, 3);
        var expected = ReferenceDistribution(logits, temperature, topK, topP);
        const int grid = 20000;
        var counts = new int[vocab];
        for (int n = 0; n < grid; n++)
            counts[Sampling.Sample(logits, temperature, topK, topP, new Quantile((n + 0.5) / grid))]++;
        for (int id = 0; id < vocab; id++)
        {
            if (expected[id] == 0) Assert.True(counts[id] == 0, $"token {id} is filtered out but was drawn {counts[id]} times");
            // Each kept token is one interval of u: its share of the grid is within one grid step of its probability at each end.
            else Assert.True(Math.Abs((double)counts[id] / grid - expected[id]) <= 2.0 / grid + 1e-6,
                $"token {id}: drawn with probability {(double)counts[id] / grid}, expected {expected[id]} (T={temperature}, k={topK}, p={topP})");
        }
    }

    [Fact]
    public void ZeroTemperatureIsArgmaxWithTiesToTheLowerId()
    {
        float[] logits = [0.5f, 2f, -1f, 2f, 1.9f];
        for (int n = 0; n < 10; n++)
            Assert.Equal(1, Sampling.Sample(logits, 0f, 0, 1f, new Quantile(n / 10.0)));
        Assert.Equal(1, Sampling.Argmax(logits));
    }

    public static TheoryData<int, float, double> SoftmaxCases()
    {
        var data = new TheoryData<int, float, double>();
        foreach (int n in new[] { 1, 7, 33, 130 })
            foreach (float t in new[] { 1f, 0.3f, 2.5f })
                foreach (double scale in new[] { 1, 80 }) // ±80 overflows exp without the max shift
                    data.Add(n, t, scale);
        return data;
    }

    [Theory]
    [MemberData(nameof(SoftmaxCases))]
    public void SoftmaxMatchesFloat64AndStaysFiniteForLargeLogits(int n, float temperature, double scale)
    {
        var logits = Logits(n, n + (int)scale, scale);
        var values = (float[])logits.Clone();
        Sampling.Softmax(values, temperature);
        var scaled = logits.Select(z => (double)z / temperature).ToArray();
        double max = scaled.Max(), sum = scaled.Sum(z => Math.Exp(z - max));
        var expected = scaled.Select(z => (float)(Math.Exp(z - max) / sum)).ToArray();
        // logits / T is rounded to float32 before exp: a relative error of 2^-24 in an exponent of size |z / T| moves each
        // probability by that much relatively, so the tolerance grows with the largest exponent.
        float rtol = 1e-5f + 2.4e-7f * (float)scaled.Max(Math.Abs);
        SharedData.AssertClose(expected, values, $"softmax n={n} T={temperature} scale={scale}", 1e-6f, rtol);
        Assert.Equal(1.0, values.Sum(v => (double)v), 5);
    }

    [Fact]
    public void LogProbabilitiesAreLogSoftmaxInFloat64()
    {
        var logits = Logits(130, 5, 30);
        int[] ids = [0, 129, 64, 64, 7];
        var actual = Sampling.LogProbabilities(logits, ids);
        double max = logits.Max(), logSum = max + Math.Log(logits.Sum(z => Math.Exp(z - max)));
        SharedData.AssertClose(ids.Select(i => (float)(logits[i] - logSum)).ToArray(), actual, "log softmax", 2e-5f, 1e-6f);
    }
}
