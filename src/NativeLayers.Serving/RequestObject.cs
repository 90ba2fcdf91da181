using System.Text.Json;

namespace NativeLayers.Serving;

/// <summary>
/// A JSON object of a request body with typed reads: a field of the wrong type or out of range is a 400 naming the
/// field by its path (e.g. steering[0].coefficient). Absent fields and JSON null read as null.
/// </summary>
internal readonly struct RequestObject
{
    private readonly JsonElement _element;

    public RequestObject(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw ApiException.BadRequest($"{(path == "" ? "the request body" : $"'{path}'")} must be a JSON object, got {Describe(element)}.", path == "" ? null : path);
        _element = element;
        Path = path;
    }

    public string Path { get; }

    public static RequestObject Parse(ReadOnlyMemory<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            return new RequestObject(document.RootElement.Clone(), "");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the request body is not valid JSON: {e.Message}");
        }
    }

    public string Field(string name) => Path == "" ? name : $"{Path}.{name}";

    public JsonElement? Get(string name) =>
        _element.TryGetProperty(name, out var value) && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined) ? value : null;

    public string? String(string name) => Get(name) is { } v
        ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(name, "a string", v)
        : null;

    public bool? Bool(string name) => Get(name) is { } v
        ? v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(name, "true or false", v)
        : null;

    public int? Int(string name, long min, long max)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long value)) throw Wrong(name, "an integer", v);
        if (value < min || value > max) throw ApiException.BadRequest($"'{Field(name)}' must be in [{min}, {max}], got {value}.", Field(name));
        return (int)value;
    }

    public float? Float(string name, double min, double max)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw Wrong(name, "a number", v);
        double value = v.GetDouble();
        if (!double.IsFinite(value) || value < min || value > max)
            throw ApiException.BadRequest($"'{Field(name)}' must be in [{min}, {max}], got {value}.", Field(name));
        return (float)value;
    }

    public IEnumerable<JsonProperty> Properties() => _element.EnumerateObject();

    public RequestObject? Object(string name) => Get(name) is { } v ? new RequestObject(v, Field(name)) : null;

    public ApiException Wrong(string name, string expected, JsonElement value) =>
        ApiException.BadRequest($"'{Field(name)}' must be {expected}, got {Describe(value)}.", Field(name));

    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"{value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };

    /// <summary>The floats of a JSON array (a vector), each finite.</summary>
    public static float[] Floats(JsonElement array, string path)
    {
        if (array.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest($"'{path}' must be an array of numbers, got {Describe(array)}.", path);
        var values = new float[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number) throw ApiException.BadRequest($"'{path}[{i}]' must be a number, got {Describe(item)}.", path);
            float x = (float)item.GetDouble();
            if (!float.IsFinite(x)) throw ApiException.BadRequest($"'{path}[{i}]' is not a finite float32.", path);
            values[i++] = x;
        }
        return values;
    }
}
