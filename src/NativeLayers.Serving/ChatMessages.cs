using System.Text;
using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Serving;

/// <summary>"messages" rendered with the model's chat template and tokenised as Hugging Face does (no special tokens added: the template has them).</summary>
internal static class ChatMessages
{
    public static int[] Prompt(RequestObject body, ServingContext context)
    {
        if (body.Get("messages") is not { } list) throw ApiException.BadRequest("'messages' is required.", "messages");
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw ApiException.BadRequest("'messages' must be a non-empty array of messages.", "messages");
        if (body.Get("tools") is { ValueKind: JsonValueKind.Array } tools && tools.GetArrayLength() > 0)
            throw ApiException.BadRequest("'tools' are not supported.", "tools");
        var messages = new List<IReadOnlyDictionary<string, object?>>();
        int i = 0;
        foreach (var item in list.EnumerateArray())
        {
            var message = new RequestObject(item, $"messages[{i++}]");
            string role = message.String("role") ?? throw ApiException.BadRequest($"'{message.Field("role")}' is required.", message.Field("role"));
            var entry = new Dictionary<string, object?> { ["role"] = role, ["content"] = Content(message) };
            if (message.String("name") is { } name) entry["name"] = name;
            messages.Add(entry);
        }
        var template = context.ChatTemplate;
        string text;
        try
        {
            text = template.Render(messages, addGenerationPrompt: true);
        }
        catch (NativeLayersException e)
        {
            throw ApiException.BadRequest($"the chat template cannot render these messages: {e.Message}", "messages");
        }
        var model = context.Model;
        if (!model.HasTokenizer) throw ApiException.BadRequest("this model has no tokenizer, so it cannot chat; use /v1/completions with token ids.", "messages");
        var ids = model.Tokenizer.Encode(text, addSpecialTokens: false);
        return ids.Length > 0 ? ids : throw ApiException.BadRequest("the chat template rendered these messages as no tokens.", "messages");
    }

    /// <summary>A string, or an array of text parts (joined); other parts (images, audio) are refused.</summary>
    private static string Content(RequestObject message)
    {
        string field = message.Field("content");
        switch (message.Get("content"))
        {
            case null: return "";
            case { ValueKind: JsonValueKind.String } text: return text.GetString()!;
            case { ValueKind: JsonValueKind.Array } parts:
                var joined = new StringBuilder();
                int i = 0;
                foreach (var part in parts.EnumerateArray())
                {
                    var p = new RequestObject(part, $"{field}[{i++}]");
                    if (p.String("type") != "text") throw ApiException.BadRequest($"'{p.Field("type")}': only text content parts are supported.", p.Field("type"));
                    joined.Append(p.String("text") ?? "");
                }
                return joined.ToString();
            case { } other: throw message.Wrong("content", "a string or an array of text parts", other);
        }
    }
}
