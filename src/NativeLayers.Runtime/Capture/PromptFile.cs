using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Capture;

/// <summary>Reads prompts: JSONL (one object a line with "text" or "prompt", or a JSON string) or plain text, one prompt a line.</summary>
public static class PromptFile
{
    public static List<string> Read(string path, EncodingErrors errors = EncodingErrors.Strict)
    {
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        var prompts = jsonl
            ? JsonLines.Read(path, "prompt", "a JSON string or an object with a \"text\" or \"prompt\" string", Parse, errors)
            : TextFiles.ReadLines(path, "prompt", errors).Where(line => !string.IsNullOrWhiteSpace(line)).ToList();
        if (prompts.Count == 0) throw new ModelFileException(path, "no prompts in the file.");
        return prompts;
    }

    private static string? Parse(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.String) return root.GetString();
        foreach (var key in new[] { "text", "prompt" })
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String)
                return v.GetString();
        return null;
    }
}
