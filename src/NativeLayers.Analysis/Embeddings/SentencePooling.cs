using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Embeddings;

public enum PoolingMode { Mean, Cls, Last }

/// <summary>
/// How token rows become one sentence vector: mean over tokens, the first ([CLS]) or the last token, then optionally
/// L2-normalised. <see cref="FromModel"/> reads sentence-transformers' modules.json and 1_Pooling/config.json.
/// </summary>
public sealed record SentencePooling(PoolingMode Mode, bool Normalize)
{
    public TokenRows Rows => Mode switch
    {
        PoolingMode.Cls => new TokenRows(TokenSelection.First, Reduction.None),
        PoolingMode.Last => TokenRows.LastToken,
        _ => TokenRows.MeanOfTokens,
    };

    public static PoolingMode Parse(string text) => text.Trim() switch
    {
        "mean" => PoolingMode.Mean,
        "cls" => PoolingMode.Cls,
        "last" => PoolingMode.Last,
        _ => throw new NativeLayersException($"pooling '{text}' must be mean, cls, last or from-model."),
    };

    /// <summary>The folder's sentence-transformers pooling, or null when it has none (no modules.json).</summary>
    public static SentencePooling? FromModel(string directory)
    {
        string modules = Path.Combine(directory, "modules.json");
        if (!File.Exists(modules)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(modules));
            var types = doc.RootElement.EnumerateArray().Select(m => (Type: m.GetProperty("type").GetString() ?? "", Path: m.TryGetProperty("path", out var p) ? p.GetString() ?? "" : "")).ToList();
            bool normalize = types.Any(m => m.Type.EndsWith(".Normalize"));
            var pooling = types.FirstOrDefault(m => m.Type.EndsWith(".Pooling"));
            if (pooling.Type == "") return new SentencePooling(PoolingMode.Mean, normalize);
            string config = Path.Combine(directory, pooling.Path, "config.json");
            using var pool = JsonDocument.Parse(File.ReadAllBytes(config));
            bool Flag(string name) => pool.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
            if (Flag("pooling_mode_max_tokens") || Flag("pooling_mode_mean_sqrt_len_tokens") || Flag("pooling_mode_weightedmean_tokens"))
                throw new ModelFileException(config, "this pooling (max, mean_sqrt_len or weighted mean) is not supported; choose --pooling mean, cls or last.");
            var mode = Flag("pooling_mode_cls_token") ? PoolingMode.Cls : Flag("pooling_mode_lasttoken") ? PoolingMode.Last : PoolingMode.Mean;
            return new SentencePooling(mode, normalize);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            throw new ModelFileException(modules, $"cannot read the sentence-transformers modules ({e.Message}).");
        }
    }
}
