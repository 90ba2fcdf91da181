using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

/// <summary>A contrastive pair: the same template with the concept present (positive) and absent or opposite (negative).</summary>
public sealed record ContrastivePair(string Positive, string Negative);

public static class ContrastivePairs
{
    /// <summary>Reads JSONL with one {"positive": ..., "negative": ...} object a line.</summary>
    public static List<ContrastivePair> Read(string path, EncodingErrors errors = EncodingErrors.Strict)
    {
        var pairs = JsonLines.Read(path, "pairs", "an object with \"positive\" and \"negative\" strings", root =>
            root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("positive", out var p) && p.ValueKind == JsonValueKind.String
            && root.TryGetProperty("negative", out var n) && n.ValueKind == JsonValueKind.String
                ? new ContrastivePair(p.GetString()!, n.GetString()!)
                : null, errors);
        if (pairs.Count < 2) throw new ModelFileException(path, $"{pairs.Count} pair(s); extraction needs at least 2.");
        return pairs;
    }
}
