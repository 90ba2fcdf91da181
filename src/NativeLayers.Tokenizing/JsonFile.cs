using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>Reads a JSON file, turning every read or syntax problem into a <see cref="ModelFileException"/>.</summary>
internal static class JsonFile
{
    public static JsonElement ReadObject(string path)
    {
        byte[] bytes = FileBytes.Read(path);
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(bytes.AsMemory(bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0));
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ModelFileException(path, $"malformed JSON: {e.Message}", e);
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw new ModelFileException(path, $"expected a JSON object at the top level, found {Describe(root)}");
        return root;
    }

    /// <summary>The property's value, or null when it is absent or JSON null.</summary>
    public static JsonElement? Optional(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{value.GetString()}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the value {value.GetRawText()}",
        _ => "null",
    };
}
