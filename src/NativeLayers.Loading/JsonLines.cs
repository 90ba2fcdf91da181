using System.Text.Json;

namespace NativeLayers.Loading;

/// <summary>Reads JSONL files (one JSON value a line, blank lines skipped) with errors naming the file and the line.</summary>
public static class JsonLines
{
    /// <summary>
    /// Parses every non-blank line with <paramref name="parse"/>(element, lineNumber); a parser signals a bad line by
    /// returning null together with <paramref name="expected"/> as the message.
    /// </summary>
    public static List<T> Read<T>(string path, string what, string expected, Func<JsonElement, T?> parse,
        EncodingErrors errors = EncodingErrors.Strict) where T : class
    {
        var items = new List<T>();
        int lineNumber = 0;
        foreach (var line in TextFiles.ReadLines(path, what, errors))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new ModelFileException(path, $"line {lineNumber} is not valid JSON ({e.Message})."); }
            using (doc)
                items.Add(parse(doc.RootElement) ?? throw new ModelFileException(path, $"line {lineNumber}: expected {expected}."));
        }
        return items;
    }
}
