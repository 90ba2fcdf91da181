using System.Text.Json;
using NativeLayers.Tokenizing.Chat;

namespace NativeLayers.Serving.Tests;

/// <summary>
/// The chat templates of Llama 3, Qwen2.5, Gemma 2, Mistral and Phi-3 (their tokenizer_config.json chat_template)
/// rendered as Hugging Face renders them: ChatTemplates/goldens.json holds the outputs (or the template's own
/// raise_exception messages) of @huggingface/jinja, made by tools/chat-template-goldens.
/// </summary>
public sealed class ChatTemplateTests
{
    private static readonly JsonElement Goldens = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ChatTemplates", "goldens.json"))).RootElement;

    public static TheoryData<string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var c in Goldens.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!, c.GetProperty("add_generation_prompt").GetBoolean());
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersAsHuggingFaceDoes(string name, string conversation, bool addGenerationPrompt)
    {
        var c = Goldens.GetProperty("cases").EnumerateArray().Single(x => x.GetProperty("template").GetString() == name
            && x.GetProperty("conversation").GetString() == conversation && x.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
        var spec = Goldens.GetProperty("templates").GetProperty(name);
        var tokens = new Dictionary<string, string>();
        foreach (var special in new[] { "bos_token", "eos_token" })
            if (spec.GetProperty(special).ValueKind == JsonValueKind.String) tokens[special] = spec.GetProperty(special).GetString()!;
        var template = ChatTemplate.FromText(spec.GetProperty("template").GetString()!, tokens);
        var messages = c.GetProperty("messages").EnumerateArray().Select(m => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["role"] = m.GetProperty("role").GetString(), ["content"] = m.GetProperty("content").GetString(),
        }).ToList();
        if (c.GetProperty("expected").ValueKind == JsonValueKind.String)
            Assert.Equal(c.GetProperty("expected").GetString(), template.Render(messages, addGenerationPrompt));
        else
        {
            var error = Assert.Throws<ChatTemplateException>(() => template.Render(messages, addGenerationPrompt));
            Assert.True(error.RaisedByTemplate);
            Assert.Equal(c.GetProperty("error").GetString(), error.Message);
        }
    }

    [SkippableFact]
    public void ThePhi3TemplateOfTheReferenceDataLoadsFromItsFolder()
    {
        var folder = ReferenceData.Shared("tokenizers", "phi3-mini");
        var template = ChatTemplate.FromModelFolder(folder)!;
        Assert.Equal("<|user|>\nHi<|end|>\n<|assistant|>\n", template.Render([new Dictionary<string, object?> { ["role"] = "user", ["content"] = "Hi" }], addGenerationPrompt: true));
        Assert.Null(ChatTemplate.FromModelFolder(ReferenceData.Stories260k));
    }

    [Theory]
    [InlineData("{% macro m() %}x{% endmacro %}", "macro")]
    [InlineData("{% filter upper %}x{% endfilter %}", "filter")]
    [InlineData("{{ messages | wordcount }}", "wordcount")]
    [InlineData("{{ 'a'.zfill(3) }}", "undefined")]
    [InlineData("{% if true %}x", "endif")]
    [InlineData("{{ 1 + }}", "expected a value")]
    public void UnsupportedOrBrokenConstructsAreClearErrors(string source, string named)
    {
        var error = Assert.ThrowsAny<ChatTemplateException>(() => ChatTemplate.FromText(source).Render([], addGenerationPrompt: false));
        Assert.Contains(named, error.Message);
        Assert.False(error.RaisedByTemplate);
    }

    // Expected values as Python's Jinja gives them (lists and dicts print as Python reprs).
    [Theory]
    [InlineData("{% for m in messages %}{% set x = m.role %}{% endfor %}[{{ x }}]", "[]")]
    [InlineData("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "2")]
    [InlineData("{{ messages[-1]['content'][::-1] }}|{{ messages[1:] | length }}|{{ (messages | map(attribute='role') | list) }}", "ab|1|['user', 'assistant']")]
    [InlineData("{{ 'x' if messages | selectattr('role', 'equalto', 'assistant') | list else 'y' }}{{ 7 // 2 }}{{ 7 % 3 }}{{ 1 / 2 }}", "x310.5")]
    [InlineData("{{ {'a': [1, 'b', none, true]} | tojson }} {{ {'a': 1} }}", "{\"a\": [1, \"b\", null, true]} {'a': 1}")]
    [InlineData("  {% if true %}\n  yes\n  {%- endif %}\n{{ 'A' ~ 1 }}", "  yesA1")]
    [InlineData("{% for m in messages if m.role == 'user' %}{{ loop.index }}/{{ loop.length }}{% else %}none{% endfor %}", "1/1")]
    public void JinjaSemantics(string source, string expected)
    {
        IReadOnlyDictionary<string, object?>[] messages =
        [
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi" },
            new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "ba" },
        ];
        Assert.Equal(expected, ChatTemplate.FromText(source).Render(messages, addGenerationPrompt: false));
    }
}
