using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>The settings in a model folder's optional tokenizer_config.json (Hugging Face layout).</summary>
internal sealed class TokenizerConfig
{
    public const string FileName = "tokenizer_config.json";

    private readonly JsonElement _root;

    private TokenizerConfig(string? path, JsonElement root)
    {
        FilePath = path;
        _root = root;
    }

    /// <summary>The file the settings came from; null when the folder has none.</summary>
    public string? FilePath { get; }

    public static TokenizerConfig Read(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, FileName);
        return File.Exists(path) ? new TokenizerConfig(path, JsonFile.ReadObject(path)) : new TokenizerConfig(null, default);
    }

    /// <summary>A true/false setting such as add_bos_token; null when absent.</summary>
    public bool? Flag(string name)
    {
        if (JsonFile.Optional(_root, name) is not { } value)
            return null;
        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            return value.GetBoolean();
        throw Problem($"\"{name}\" must be true or false, found {JsonFile.Describe(value)}");
    }

    /// <summary>A special token such as bos_token, written as a string or as an object with "content"; null when absent.</summary>
    public string? Token(string name)
    {
        if (JsonFile.Optional(_root, name) is not { } value)
            return null;
        if (value.ValueKind == JsonValueKind.String)
            return value.GetString();
        if (JsonFile.Optional(value, "content") is { ValueKind: JsonValueKind.String } content)
            return content.GetString();
        throw Problem($"\"{name}\" must be a string or an object with a \"content\" string, found {JsonFile.Describe(value)}");
    }

    public ModelFileException Problem(string problem) => new(FilePath ?? FileName, problem);
}
