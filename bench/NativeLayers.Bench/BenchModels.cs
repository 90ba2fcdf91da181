using System.Reflection;
using NativeLayers.Loading;
using NativeLayers.ModelGen;
using NativeLayers.Runtime;

namespace NativeLayers.Bench;

/// <summary>
/// Names the nl-modelgen preset a forward benchmark class runs (classes without one run llama-768). Inherited: the
/// in-process toolchain runs a generated subclass of the benchmark class, so GetType() in a setup method is not the class itself.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class BenchModelAttribute(string preset) : Attribute
{
    public string Preset { get; } = preset;
}

/// <summary>The generated models the forward benchmarks run, cached on disk between runs.</summary>
public static class BenchModels
{
    /// <summary>The default model (kernel and steering benchmarks, and the Prefill / Decode classes).</summary>
    public const string Preset = "llama-768";
    public static readonly ModelSpec Spec = ModelSpec.Preset(Preset);

    /// <summary>Every model the forward benchmarks cover, in report order.</summary>
    public static readonly IReadOnlyList<string> Presets = [Preset, "gpt2-small", "pythia-160m"];

    /// <summary>NL_BENCH_MODELS, or a folder under the system temp directory.</summary>
    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("NL_BENCH_MODELS") is { Length: > 0 } root ? root : Path.Combine(Path.GetTempPath(), "nativelayers-bench");

    public static string PresetOf(Type benchmark) => benchmark.GetCustomAttribute<BenchModelAttribute>(inherit: true)?.Preset ?? Preset;

    public static Transformer Load(DType dtype) => Load(Spec, dtype);

    public static Transformer Load(ModelSpec spec, DType dtype)
    {
        string dir = Path.Combine(CacheRoot, $"{spec.Id}-{dtype.Name().ToLowerInvariant()}-seed0");
        return Transformer.Load(ModelGenerator.EnsureCached(dir, spec, dtype));
    }

    /// <summary>Deterministic token ids away from the special ids 0–2.</summary>
    public static int[] Tokens(int count, int seed) => Tokens(Spec, count, seed);

    public static int[] Tokens(ModelSpec spec, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(3, spec.Vocab)).ToArray();
    }
}
