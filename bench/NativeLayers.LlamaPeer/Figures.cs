using NativeLayers.Bench;
using NativeLayers.Loading;
using NativeLayers.ModelGen;

namespace NativeLayers.LlamaPeer;

/// <summary>
/// One measured figure: how to run it on an engine (returns tokens/s) and how much of a ceiling a rate uses
/// (prefill: flops against the FMA peak; decode: weight bytes streamed against the read bandwidth).
/// </summary>
public sealed record Figure(string Name, Func<IPeerEngine, double> TokensPerSecond, Func<double, InRunCeilings, double> FractionOfCeiling, string Ceiling)
{
    public static Figure Prefill(ModelSpec spec, int tokens, int seed)
    {
        int[] ids = TokenIds.Random(spec, tokens, seed);
        double flopsPerToken = Workload.PrefillWork(spec, tokens).Flops / tokens;
        return new($"prefill {tokens}", engine =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            engine.Prefill(ids);
            return tokens / clock.Elapsed.TotalSeconds;
        }, (rate, c) => rate * flopsPerToken / c.FlopsPerSecond, "FMA");
    }

    public static Figure Decode(ModelSpec spec, DType dtype, int promptTokens, int steps, int seed)
    {
        int[] prompt = TokenIds.Random(spec, promptTokens, seed);
        int[] next = TokenIds.Random(spec, steps, seed + 1);
        double bytesPerToken = Workload.DecodeStep(spec, dtype, 1).Bytes;
        return new($"decode b1 ({promptTokens}-token prompt, {steps} steps)",
            engine => steps / engine.DecodeSeconds(prompt, next),
            (rate, c) => rate * bytesPerToken / c.ReadBytesPerSecond, "read");
    }
}

public static class TokenIds
{
    /// <summary>Deterministic ids away from the special ids 0–2.</summary>
    public static int[] Random(ModelSpec spec, int count, int seed) => BenchModels.Tokens(spec, count, seed);
}
