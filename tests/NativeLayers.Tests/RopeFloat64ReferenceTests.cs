using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Tests;

/// <summary>
/// Rotary embeddings against float64 formulas written from the papers and Hugging Face's rope_init functions (default,
/// linear, llama3, YaRN, LongRoPE short and long, partial rotary): the tables themselves, and the rotation each backend
/// applies to q and k in RotateAndAppend, on odd head counts (GQA) and odd halves.
/// </summary>
public sealed class RopeFloat64ReferenceTests
{
    private const double Theta = 10000;

    /// <summary>The scalings under test, by name (TheoryData needs serialisable arguments).</summary>
    private static RopeScaling? Scaling(string name, int rotaryDim) => name switch
    {
        "default" => null,
        "linear" => new RopeScaling("linear", Factor: 2.5),
        // Wavelengths 2π … 2π·10000^(1 − 2/d): with an original context of 64 and factors 1 and 4, some dims are
        // high-frequency (wavelength < 16, kept), some low (> 64, divided by 8) and some blended in between.
        "llama3" => new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 64),
        "yarn" => new RopeScaling("yarn", Factor: 4, OriginalMaxPositions: 64, BetaFast: 32, BetaSlow: 1),
        "yarn-attention-factor" => new RopeScaling("yarn", Factor: 3, OriginalMaxPositions: 128, BetaFast: 16, BetaSlow: 2, AttentionFactor: 0.8),
        "longrope-short" or "longrope-long" => new RopeScaling("longrope", Factor: 16, OriginalMaxPositions: 64, AttentionFactor: 1.19,
            ShortFactor: Enumerable.Range(0, rotaryDim / 2).Select(i => 1 + 0.05 * i).ToArray(),
            LongFactor: Enumerable.Range(0, rotaryDim / 2).Select(i => 1 + 0.7 * i * i).ToArray()),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>inv_freq and the cos/sin multiplier in float64, from the definitions (not from RopeTable's code).</summary>
    private static (double[] InvFreq, double AttentionScaling) Reference(string name, int rotaryDim)
    {
        int half = rotaryDim / 2;
        var s = Scaling(name, rotaryDim);
        var baseFreq = Enumerable.Range(0, half).Select(i => Math.Pow(Theta, -2.0 * i / rotaryDim)).ToArray();
        switch (name)
        {
            case "default": return (baseFreq, 1);
            case "linear": return (baseFreq.Select(f => f / s!.Factor).ToArray(), 1);
            case "llama3":
            {
                double lowWavelength = s!.OriginalMaxPositions / s.LowFreqFactor, highWavelength = s.OriginalMaxPositions / s.HighFreqFactor;
                return (baseFreq.Select(f =>
                {
                    double wavelength = 2 * Math.PI / f;
                    if (wavelength < highWavelength) return f;
                    if (wavelength > lowWavelength) return f / s.Factor;
                    double smooth = (s.OriginalMaxPositions / wavelength - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    return (1 - smooth) * f / s.Factor + smooth * f;
                }).ToArray(), 1);
            }
            case "yarn" or "yarn-attention-factor":
            {
                // Peng et al. 2023 §3: the correction range [low, high] of dims by their number of rotations over
                // the original context, a linear ramp between extrapolation and interpolation (factor) over it.
                double Dim(double rotations) => rotaryDim * Math.Log(s!.OriginalMaxPositions / (rotations * 2 * Math.PI)) / (2 * Math.Log(Theta));
                double low = Math.Max(Math.Floor(Dim(s!.BetaFast)), 0), high = Math.Min(Math.Ceiling(Dim(s.BetaSlow)), rotaryDim - 1);
                if (low == high) high += 0.001;
                var inv = new double[half];
                for (int i = 0; i < half; i++)
                {
                    double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
                    inv[i] = baseFreq[i] / s.Factor * ramp + baseFreq[i] * (1 - ramp);
                }
                return (inv, s.AttentionFactor ?? 0.1 * Math.Log(s.Factor) + 1);
            }
            default:
            {
                var factors = name == "longrope-long" ? s!.LongFactor! : s!.ShortFactor!;
                return (baseFreq.Select((f, i) => f / factors[i]).ToArray(), s.AttentionFactor!.Value);
            }
        }
    }

    private static RopeTable Table(string name, int rotaryDim, int positions) =>
        new(rotaryDim, Theta, Scaling(name, rotaryDim), positions, longFactors: name == "longrope-long");

    private static readonly string[] ScalingNames = ["default", "linear", "llama3", "yarn", "yarn-attention-factor", "longrope-short", "longrope-long"];

    public static TheoryData<string, int> TableCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in ScalingNames)
            foreach (int rotaryDim in new[] { 2, 6, 34, 130 }) data.Add(name, rotaryDim);
        return data;
    }

    [Theory]
    [MemberData(nameof(TableCases))]
    public void TablesHoldCosAndSinOfPositionTimesTheScaledFrequencies(string name, int rotaryDim)
    {
        const int positions = 50;
        var table = Table(name, rotaryDim, positions);
        var (invFreq, scaling) = Reference(name, rotaryDim);
        Assert.Equal(rotaryDim / 2, table.Half);
        Assert.Equal((float)scaling, table.AttentionScaling, 6);
        Assert.True(table.Positions >= positions);
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < table.Half; i++)
            {
                // The table is computed in float32 as Hugging Face does: the angle p · inv_freq carries a relative error of
                // a few ulps, so the tolerance grows with the angle.
                double angle = p * invFreq[i], tolerance = 2e-6 + 4e-7 * angle;
                double cos = table.CosTable[p * table.Half + i], sin = table.SinTable[p * table.Half + i];
                Assert.True(Math.Abs(cos - scaling * Math.Cos(angle)) <= tolerance, $"{name} d={rotaryDim} cos[{p},{i}] = {cos}, expected {scaling * Math.Cos(angle)}");
                Assert.True(Math.Abs(sin - scaling * Math.Sin(angle)) <= tolerance, $"{name} d={rotaryDim} sin[{p},{i}] = {sin}, expected {scaling * Math.Sin(angle)}");
            }
    }

    [Fact]
    public void TablesGrowOnDemandWithTheSameValues()
    {
        var table = Table("yarn", 34, 3);
        var first = table.CosTable.ToArray();
        table.EnsurePositions(40);
        Assert.True(table.Positions >= 40);
        Assert.Equal(first, table.CosTable[..first.Length].ToArray());
        var fresh = Table("yarn", 34, 40);
        Assert.Equal(fresh.SinTable[..(40 * 17)].ToArray(), table.SinTable[..(40 * 17)].ToArray());
    }

    public static TheoryData<string, string, int, int, int, int> RotationCases()
    {
        var data = new TheoryData<string, string, int, int, int, int>();
        foreach (var device in TestDevices.All)
        {
            // device, scaling, heads, kv heads, head dim, rotary dim
            data.Add(device, "default", 4, 2, 8, 8);        // full rotary, GQA 2
            data.Add(device, "linear", 3, 1, 10, 6);        // partial rotary (odd half), MQA
            data.Add(device, "llama3", 6, 2, 34, 34);
            data.Add(device, "yarn", 5, 5, 12, 12);         // no grouping, odd head count
            data.Add(device, "yarn-attention-factor", 2, 1, 16, 10);
            data.Add(device, "longrope-short", 4, 4, 6, 6);
            data.Add(device, "longrope-long", 3, 3, 14, 4);  // partial rotary, half of 2
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(RotationCases))]
    public void RotateAndAppendTurnsEachQueryAndKeyHeadByTheFloat64Angles(string device, string name, int heads, int kvHeads, int headDim, int rotaryDim)
    {
        using var backend = TestBackends.Create(device);
        var shape = new AttentionShape(heads, kvHeads, headDim, 1f / MathF.Sqrt(headDim));
        var rope = Table(name, rotaryDim, 8);
        var (invFreq, scaling) = Reference(name, rotaryDim);
        int stride = shape.QkvStride;
        var random = new Random(rotaryDim * 31 + heads);
        // Two sequences: 3 new tokens after 9 cached ones (positions past the table's first size), and 2 from 0.
        var rows = new List<SequenceRows> { new(0, 3, 9), new(3, 2, 0) };
        var caches = new[] { backend.CreateKvCache(1, shape.KvStride, 16), backend.CreateKvCache(1, shape.KvStride, 16) };
        try
        {
            var batch = new ForwardBatch(rows, caches);
            foreach (var (seq, cache) in rows.Zip(caches)) cache.EnsureCapacity(seq.FirstPosition + seq.Count);
            var qkv = Enumerable.Range(0, batch.Rows * stride).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            using var buffer = TestBackends.Put(backend, qkv);
            rope.EnsurePositions(12);
            backend.RotateAndAppend(batch, 0, buffer, shape, rotaryDim, rope);
            var rotated = TestBackends.Get(backend, buffer, qkv.Length);

            var expected = qkv.Select(v => (double)v).ToArray();
            int half = rotaryDim / 2;
            foreach (var seq in rows)
                for (int t = 0; t < seq.Count; t++)
                {
                    int row = seq.FirstRow + t, position = seq.FirstPosition + t;
                    for (int h = 0; h < heads + kvHeads; h++)
                    {
                        int at = row * stride + (h < heads ? h * headDim : shape.QueryWidth + (h - heads) * headDim);
                        for (int i = 0; i < half; i++)
                        {
                            double angle = position * invFreq[i], cos = scaling * Math.Cos(angle), sin = scaling * Math.Sin(angle);
                            double a = qkv[at + i], b = qkv[at + i + half];
                            expected[at + i] = a * cos - b * sin;
                            expected[at + i + half] = b * cos + a * sin;
                        }
                    }
                }
            // Values and the dims past rotaryDim are untouched (expected holds the inputs there).
            SharedData.AssertClose(expected.Select(v => (float)v).ToArray(), rotated, $"{device} {name} rope h={heads}/{kvHeads} hd={headDim} rd={rotaryDim}", 1e-5f, 1e-5f);
        }
        finally
        {
            foreach (var cache in caches) cache.Dispose();
        }
    }
}
