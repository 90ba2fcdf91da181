using System.Text.Json;

namespace NativeLayers.Tokenizing.Chat;

/// <summary>
/// A model's chat template (tokenizer_config.json "chat_template"), rendered as Hugging Face's apply_chat_template
/// renders it: Jinja with trim_blocks and lstrip_blocks, messages as dicts, add_generation_prompt, the special
/// tokens' strings (bos_token, eos_token, ...) and raise_exception. Unsupported constructs are errors at load.
/// The text is then tokenised without adding special tokens (the template writes them).
/// </summary>
public sealed class ChatTemplate
{
    private readonly IReadOnlyList<Node> _template;
    private readonly IReadOnlyDictionary<string, string> _specialTokens;

    private ChatTemplate(string source, IReadOnlyDictionary<string, string> specialTokens)
    {
        Source = source;
        _template = JinjaParser.Parse(source);
        _specialTokens = specialTokens;
    }

    public string Source { get; }

    /// <summary>The folder's template ("default" of a named list), or null when tokenizer_config.json has none.</summary>
    public static ChatTemplate? FromModelFolder(string modelDirectory)
    {
        var config = TokenizerConfig.Read(modelDirectory);
        if (config.FilePath == null) return null;
        var root = JsonFile.ReadObject(config.FilePath);
        string? source = JsonFile.Optional(root, "chat_template") switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } text => text.GetString(),
            { ValueKind: JsonValueKind.Array } named => named.EnumerateArray()
                .FirstOrDefault(t => t.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default") is { ValueKind: JsonValueKind.Object } chosen
                && chosen.TryGetProperty("template", out var body) && body.ValueKind == JsonValueKind.String
                    ? body.GetString()
                    : throw config.Problem("\"chat_template\" is a list without a \"default\" template."),
            { } other => throw config.Problem($"\"chat_template\" must be a string or a list of named templates, found {JsonFile.Describe(other)}"),
        };
        return source == null ? null : FromText(source, SpecialTokens(modelDirectory));
    }

    public static ChatTemplate FromText(string source, IReadOnlyDictionary<string, string>? specialTokens = null) =>
        new(source, specialTokens ?? new Dictionary<string, string>());

    /// <summary>bos_token, eos_token, unk_token and pad_token of the folder's tokenizer_config.json, as the template sees them.</summary>
    public static IReadOnlyDictionary<string, string> SpecialTokens(string modelDirectory)
    {
        var config = TokenizerConfig.Read(modelDirectory);
        var tokens = new Dictionary<string, string>();
        foreach (var name in new[] { "bos_token", "eos_token", "unk_token", "pad_token" })
            if (config.Token(name) is { } value) tokens[name] = value;
        return tokens;
    }

    /// <summary>
    /// Renders messages (each a dict of role, content and optional fields such as name). Throws
    /// <see cref="ChatTemplateException"/> when the template refuses them or uses what this renderer lacks.
    /// </summary>
    public string Render(IReadOnlyList<IReadOnlyDictionary<string, object?>> messages, bool addGenerationPrompt,
        IReadOnlyDictionary<string, object?>? variables = null)
    {
        var globals = new Dictionary<string, object?>();
        foreach (var (name, value) in _specialTokens) globals[name] = value;
        if (variables != null) foreach (var (name, value) in variables) globals[name] = Convert(value);
        globals["messages"] = messages.Select(m => Convert(m)).ToList();
        globals["add_generation_prompt"] = addGenerationPrompt;
        return JinjaRenderer.Render(_template, globals);
    }

    /// <summary>Host values as template values: integers as long, floats as double, collections as lists and dicts.</summary>
    private static object? Convert(object? value) => value switch
    {
        null or string or bool or long or double => value,
        int i => (long)i,
        float f => (double)f,
        IReadOnlyDictionary<string, object?> dict => dict.ToDictionary(p => p.Key, p => Convert(p.Value)),
        IDictionary<string, object?> dict => dict.ToDictionary(p => p.Key, p => Convert(p.Value)),
        System.Collections.IEnumerable list => list.Cast<object?>().Select(Convert).ToList(),
        _ => throw new ChatTemplateException($"a {value.GetType().Name} cannot be passed to a chat template."),
    };
}
