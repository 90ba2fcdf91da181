using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>A parsed Hugging Face tokenizer.json, with accessors that name the file in every error.</summary>
internal sealed class TokenizerJson
{
    public const string FileName = "tokenizer.json";

    private TokenizerJson(string path, JsonElement root)
    {
        FilePath = path;
        Root = root;
        Model = JsonFile.Optional(root, "model") is { ValueKind: JsonValueKind.Object } model
            ? model
            : throw Problem("no \"model\" object");
        ModelType = JsonFile.Optional(Model, "type") is { } type
            ? String(type, "model.type")
            : JsonFile.Optional(Model, "merges") is not null ? "BPE"
            : JsonFile.Optional(Model, "vocab") is { ValueKind: JsonValueKind.Array } ? "Unigram"
            : JsonFile.Optional(Model, "max_input_chars_per_word") is not null ? "WordPiece"
            : "(none)";
    }

    public string FilePath { get; }
    public JsonElement Root { get; }
    public JsonElement Model { get; }

    /// <summary>"BPE", "WordPiece", "Unigram", ...; older files without a type are recognised by their fields (merges: BPE, a vocab list: Unigram, max_input_chars_per_word: WordPiece).</summary>
    public string ModelType { get; }

    public static TokenizerJson Read(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, FileName);
        return new TokenizerJson(path, JsonFile.ReadObject(path));
    }

    public ModelFileException Problem(string problem) => new(FilePath, problem);

    /// <summary>model.vocab: token → id.</summary>
    public Dictionary<string, int> Vocabulary()
    {
        if (JsonFile.Optional(Model, "vocab") is not { ValueKind: JsonValueKind.Object } vocab)
            throw Problem("model.vocab must be an object mapping tokens to ids");
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
            result[entry.Name] = Id(entry.Value, $"model.vocab[\"{entry.Name}\"]");
        return result;
    }

    /// <summary>The value's "type" field ("ByteLevel", "Sequence", ...), or null.</summary>
    public string? TypeOf(JsonElement? element) =>
        element is { } e && JsonFile.Optional(e, "type") is { } type ? String(type, "type") : null;

    public string String(JsonElement value, string what) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Problem($"{what} must be a string, found {JsonFile.Describe(value)}");

    public int Id(JsonElement value, string what) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int id) && id >= 0
            ? id
            : throw Problem($"{what} must be a non-negative integer id, found {JsonFile.Describe(value)}");

    public bool Flag(JsonElement obj, string name, bool fallback) => JsonFile.Optional(obj, name) switch
    {
        null => fallback,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { } other => throw Problem($"\"{name}\" must be true or false, found {JsonFile.Describe(other)}"),
    };

    public IEnumerable<JsonElement> Array(JsonElement obj, string name, string where) =>
        JsonFile.Optional(obj, name) is { ValueKind: JsonValueKind.Array } array
            ? array.EnumerateArray()
            : throw Problem($"{where}.{name} must be an array");
}
