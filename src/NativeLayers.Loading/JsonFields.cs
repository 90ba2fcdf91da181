using System.Text.Json;

namespace NativeLayers.Loading;

/// <summary>Typed reads of a JSON object's fields, with errors that name the file and the field.</summary>
public sealed class JsonFields(string path, JsonElement root, string prefix = "")
{
    public string Path { get; } = path;
    public JsonElement Root { get; } = root;

    public static JsonDocument ParseFile(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ModelFileException(path, $"not valid JSON ({e.Message}).");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException(path, $"cannot read: {e.Message}", e);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new ModelFileException(path, "expected a JSON object at the top level.");
        }
        return doc;
    }

    public bool Has(string name) => Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string name) => Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public int RequiredInt(string name) => OptionalInt(name) ?? throw Missing(name, "an integer");

    public int? OptionalInt(string name)
    {
        var v = Get(name);
        if (v == null) return null;
        if (v.Value.ValueKind != JsonValueKind.Number || !v.Value.TryGetInt32(out int i))
            throw new ModelFileException(Path, $"field '{prefix}{name}' must be an integer, got {v.Value.GetRawText()}.");
        return i;
    }

    public int PositiveInt(string name, int? fallback = null)
    {
        int value = OptionalInt(name) ?? fallback ?? throw Missing(name, "a positive integer");
        if (value <= 0) throw new ModelFileException(Path, $"field '{prefix}{name}' must be positive, got {value}.");
        return value;
    }

    public double? OptionalDouble(string name)
    {
        var v = Get(name);
        if (v == null) return null;
        if (v.Value.ValueKind != JsonValueKind.Number)
            throw new ModelFileException(Path, $"field '{prefix}{name}' must be a number, got {v.Value.GetRawText()}.");
        double value = v.Value.GetDouble();
        if (!double.IsFinite(value))
            throw new ModelFileException(Path, $"field '{prefix}{name}' must be a finite number, got {v.Value.GetRawText()} (out of range).");
        return value;
    }

    /// <summary>A number in (0, <paramref name="max"/>]: epsilons, bases, factors, fractions.</summary>
    public double? OptionalPositiveDouble(string name, double max = double.MaxValue, string? meaning = null)
    {
        double? value = OptionalDouble(name);
        if (value is { } x && !(x > 0 && x <= max))
            throw new ModelFileException(Path, $"field '{prefix}{name}' must be {(max == double.MaxValue ? "positive" : $"in (0, {max}]")}{(meaning == null ? "" : $" ({meaning})")}, got {x}.");
        return value;
    }

    public double RequiredDouble(string name) => OptionalDouble(name) ?? throw Missing(name, "a number");

    public bool? OptionalBool(string name)
    {
        var v = Get(name);
        if (v == null) return null;
        if (v.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw new ModelFileException(Path, $"field '{prefix}{name}' must be true or false, got {v.Value.GetRawText()}.");
        return v.Value.GetBoolean();
    }

    public string? OptionalString(string name)
    {
        var v = Get(name);
        if (v == null) return null;
        if (v.Value.ValueKind != JsonValueKind.String)
            throw new ModelFileException(Path, $"field '{prefix}{name}' must be a string, got {v.Value.GetRawText()}.");
        return v.Value.GetString();
    }

    public string[] OptionalStringList(string name)
    {
        var v = Get(name);
        if (v == null) return [];
        if (v.Value.ValueKind != JsonValueKind.Array || v.Value.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw new ModelFileException(Path, $"field '{prefix}{name}' must be a list of strings, got {v.Value.GetRawText()}.");
        return v.Value.EnumerateArray().Select(e => e.GetString()!).ToArray();
    }

    /// <summary>An id field that may be a single integer or a list of integers (eos_token_id).</summary>
    public int[] IntOrIntList(string name)
    {
        var v = Get(name);
        if (v == null) return [];
        if (v.Value.ValueKind == JsonValueKind.Number && v.Value.TryGetInt32(out int one)) return [one];
        if (v.Value.ValueKind == JsonValueKind.Array)
            return v.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int i)
                ? i
                : throw new ModelFileException(Path, $"field '{prefix}{name}' must hold integers, got {e.GetRawText()}.")).ToArray();
        throw new ModelFileException(Path, $"field '{prefix}{name}' must be an integer or a list of integers, got {v.Value.GetRawText()}.");
    }

    private ModelFileException Missing(string name, string what) => new(Path, $"required field '{prefix}{name}' ({what}) is missing.");
}
