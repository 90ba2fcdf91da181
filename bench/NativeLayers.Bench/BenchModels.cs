using NativeLayers.Loading;
using NativeLayers.ModelGen;
using NativeLayers.Runtime;

namespace NativeLayers.Bench;

/// <summary>The generated models the forward benchmarks run, cached on disk between runs.</summary>
public static class BenchModels
{
    public const string Preset = "llama-768";
    public static readonly ModelSpec Spec = ModelSpec.Preset(Preset);

    /// <summary>NL_BENCH_MODELS, or a folder under the system temp directory.</summary>
    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("NL_BENCH_MODELS") is { Length: > 0 } root ? root : Path.Combine(Path.GetTempPath(), "nativelayers-bench");

    public static Transformer Load(DType dtype)
    {
        string dir = Path.Combine(CacheRoot, $"{Spec.Id}-{dtype.Name().ToLowerInvariant()}-seed0");
        return Transformer.Load(ModelGenerator.EnsureCached(dir, Spec, dtype));
    }

    /// <summary>Deterministic token ids away from the special ids 0–2.</summary>
    public static int[] Tokens(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(3, Spec.Vocab)).ToArray();
    }
}
