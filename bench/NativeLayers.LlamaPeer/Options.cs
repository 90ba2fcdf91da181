using System.Globalization;
using NativeLayers.GgufConvert;
using NativeLayers.Loading;

namespace NativeLayers.LlamaPeer;

/// <summary>--name value pairs, and the bench's model cache folder.</summary>
public sealed class Options : Dictionary<string, string>
{
    private static readonly string[] Known = ["preset", "dtypes", "reps", "threads", "prompt", "steps", "agree-steps"];

    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("NL_BENCH_MODELS") is { Length: > 0 } root ? root : Path.Combine(Path.GetTempPath(), "nativelayers-bench");

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (int i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"expected --option VALUE, got '{args[i]}'.");
            string key = args[i][2..];
            if (!Known.Contains(key)) throw new ArgumentException($"unknown option --{key} (known: {string.Join(", ", Known.Select(k => "--" + k))}).");
            options[key] = args[i + 1];
        }
        return options;
    }

    public int Int(string key, int fallback) =>
        TryGetValue(key, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

    public static DType DTypeOf(string text) => text.ToLowerInvariant() switch
    {
        "f32" => DType.F32,
        "f16" => DType.F16,
        "bf16" => DType.BF16,
        _ => throw new ArgumentException($"--dtypes takes f32, f16 and bf16, got '{text}'."),
    };

    public static GgmlType GgmlOf(DType dtype) => dtype switch
    {
        DType.F32 => GgmlType.F32,
        DType.F16 => GgmlType.F16,
        DType.BF16 => GgmlType.BF16,
        _ => throw new ArgumentException($"no GGUF type for {dtype}."),
    };
}
