using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

/// <summary>A contrastive pair: the same template with the concept present (positive) and absent or opposite (negative).</summary>
public sealed record ContrastivePair(string Positive, string Negative);

public static class ContrastivePairs
{
    /// <summary>Reads JSONL with one {"positive": ..., "negative": ...} object a line.</summary>
    public static List<ContrastivePair> Read(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "pairs file not found.");
        var pairs = new List<ContrastivePair>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Object
                    && root.TryGetProperty("positive", out var p) && p.ValueKind == JsonValueKind.String
                    && root.TryGetProperty("negative", out var n) && n.ValueKind == JsonValueKind.String)
                    pairs.Add(new ContrastivePair(p.GetString()!, n.GetString()!));
                else
                    throw new ModelFileException(path, $"line {lineNumber}: expected an object with \"positive\" and \"negative\" strings.");
            }
            catch (JsonException e)
            {
                throw new ModelFileException(path, $"line {lineNumber} is not valid JSON ({e.Message}).");
            }
        }
        if (pairs.Count < 2) throw new ModelFileException(path, $"{pairs.Count} pair(s); extraction needs at least 2.");
        return pairs;
    }
}
