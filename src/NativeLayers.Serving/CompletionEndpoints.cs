using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving;

/// <summary>POST /v1/completions and POST /v1/chat/completions, whole or streamed as server-sent events.</summary>
internal sealed class CompletionEndpoints(ServingContext context)
{
    public async Task Completions(HttpContext http)
    {
        var body = await context.ReadJson(http);
        context.CheckModel(body);
        var prompts = CompletionPrompts(body);
        var settings = GenerationSettings.Parse(body, context, prompts, chat: false);
        await Run(http, new TextCompletionShape(context, settings), prompts, settings);
    }

    public async Task ChatCompletions(HttpContext http)
    {
        var body = await context.ReadJson(http);
        context.CheckModel(body);
        var prompt = ChatMessages.Prompt(body, context);
        var settings = GenerationSettings.Parse(body, context, [prompt], chat: true);
        await Run(http, new ChatCompletionShape(context, settings), [prompt], settings);
    }

    /// <summary>"prompt": a string, an array of strings, an array of token ids, or an array of such arrays.</summary>
    private List<int[]> CompletionPrompts(RequestObject body)
    {
        var model = context.Model;
        int[] Text(string text) => model.HasTokenizer
            ? model.Tokenizer.Encode(text)
            : throw ApiException.BadRequest("this model has no tokenizer; send the prompt as token ids.", "prompt");
        int[] Ids(JsonElement array) => array.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int id) && id >= 0 && id < model.VocabSize
            ? id
            : throw ApiException.BadRequest($"'prompt' token ids must be integers in 0..{model.VocabSize - 1}, got {RequestObject.Describe(x)}.", "prompt")).ToArray();

        var prompts = body.Get("prompt") switch
        {
            null => throw ApiException.BadRequest("'prompt' is required.", "prompt"),
            { ValueKind: JsonValueKind.String } text => [Text(text.GetString()!)],
            { ValueKind: JsonValueKind.Array } array when array.GetArrayLength() > 0 && array.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number) => [Ids(array)],
            { ValueKind: JsonValueKind.Array } array => array.EnumerateArray().Select(item => item.ValueKind switch
            {
                JsonValueKind.String => Text(item.GetString()!),
                JsonValueKind.Array => Ids(item),
                _ => throw ApiException.BadRequest($"'prompt' items must be strings or arrays of token ids, got {RequestObject.Describe(item)}.", "prompt"),
            }).ToList(),
            { } other => throw body.Wrong("prompt", "a string, an array of strings or an array of token ids", other),
        };
        if (prompts.Count == 0 || prompts.Any(p => p.Length == 0)) throw ApiException.BadRequest("'prompt' must hold at least one token.", "prompt");
        return prompts;
    }

    private async Task Run(HttpContext http, IResponseShape shape, IReadOnlyList<int[]> prompts, GenerationSettings settings)
    {
        var requests = prompts.SelectMany(p => Enumerable.Range(0, settings.N).Select(i => settings.Request(p, i))).ToList();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var tokens = ChoiceRunner.Run(context.Engine, requests, http.RequestAborted);
        int promptTokens = prompts.Sum(p => p.Length) * settings.N, completionTokens = 0;
        bool first = true;
        if (settings.Stream)
        {
            var events = new ServerSentEvents(http.Response);
            await events.Start(http.RequestAborted);
            foreach (var opening in shape.Opening(requests.Count)) await events.Send(opening, http.RequestAborted);
            await foreach (var (choice, token) in tokens)
            {
                if (first) context.Metrics.FirstToken(clock.Elapsed);
                first = false;
                completionTokens++;
                context.Metrics.Tokens(1);
                await events.Send(shape.Chunk(choice, token), http.RequestAborted);
            }
            if (settings.IncludeUsage) await events.Send(shape.UsageChunk(Usage(promptTokens, completionTokens)), http.RequestAborted);
            await events.Done(http.RequestAborted);
        }
        else
        {
            var results = requests.Select(_ => new ChoiceResult()).ToArray();
            await foreach (var (choice, token) in tokens)
            {
                if (first) context.Metrics.FirstToken(clock.Elapsed);
                first = false;
                results[choice].Add(token);
                completionTokens++;
                context.Metrics.Tokens(1);
            }
            var response = shape.Whole(results, Usage(promptTokens, completionTokens));
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(response.ToJsonString(ServingJson.Options), http.RequestAborted);
        }
        context.Metrics.Completed(clock.Elapsed, promptTokens, completionTokens);
    }

    private static JsonObject Usage(int prompt, int completion) => new()
    {
        ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion,
    };
}

/// <summary>The JSON of one endpoint's responses: whole, or as stream chunks.</summary>
internal interface IResponseShape
{
    JsonObject Whole(IReadOnlyList<ChoiceResult> choices, JsonObject usage);
    /// <summary>Chunks sent before any token (chat announces the assistant role).</summary>
    IEnumerable<JsonObject> Opening(int choices);
    JsonObject Chunk(int choice, GeneratedToken token);
    JsonObject UsageChunk(JsonObject usage);
}

/// <summary>Fields the two shapes share: ids, timestamps, the model, the capture of a choice.</summary>
internal abstract class ResponseShape(ServingContext context, GenerationSettings settings, string idPrefix)
{
    protected ServingContext Context { get; } = context;
    protected GenerationSettings Settings { get; } = settings;
    private readonly string _id = idPrefix + Guid.NewGuid().ToString("N");
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    protected JsonObject Envelope(string type, JsonArray choices) => new()
    {
        ["id"] = _id, ["object"] = type, ["created"] = _created, ["model"] = Context.ModelName, ["choices"] = choices,
    };

    protected void AddCapture(JsonObject choice, IReadOnlyList<Runtime.Capture.CapturedTensor> captures)
    {
        if (Settings.Capture != null && captures.Count > 0) choice["capture"] = CaptureFields.Write(captures, Settings.CaptureFormat);
    }

    protected static string? Finish(GeneratedToken token) => token.Finish == null ? null : ChoiceResult.FinishName(token.Finish);

    protected static JsonArray Bytes(string text) => new(Encoding.UTF8.GetBytes(text).Select(b => (JsonNode?)(int)b).ToArray());
}

internal sealed class TextCompletionShape(ServingContext context, GenerationSettings settings) : ResponseShape(context, settings, "cmpl-"), IResponseShape
{
    public JsonObject Whole(IReadOnlyList<ChoiceResult> choices, JsonObject usage)
    {
        var list = new JsonArray();
        for (int i = 0; i < choices.Count; i++)
        {
            var choice = new JsonObject
            {
                ["index"] = i, ["text"] = choices[i].Text, ["logprobs"] = Logprobs(choices[i].Tokens), ["finish_reason"] = ChoiceResult.FinishName(choices[i].Finish),
            };
            AddCapture(choice, choices[i].Captures);
            list.Add(choice);
        }
        var whole = Envelope("text_completion", list);
        whole["usage"] = usage;
        return whole;
    }

    public IEnumerable<JsonObject> Opening(int choices) => [];

    public JsonObject Chunk(int choice, GeneratedToken token)
    {
        var item = new JsonObject { ["index"] = choice, ["text"] = token.Text, ["logprobs"] = Logprobs([token]), ["finish_reason"] = Finish(token) };
        AddCapture(item, token.Captures);
        return Envelope("text_completion", [item]);
    }

    public JsonObject UsageChunk(JsonObject usage)
    {
        var chunk = Envelope("text_completion", []);
        chunk["usage"] = usage;
        return chunk;
    }

    /// <summary>The legacy shape: parallel arrays of tokens, their log-probabilities, the top alternatives and text offsets.</summary>
    private JsonObject? Logprobs(IReadOnlyList<GeneratedToken> tokens)
    {
        if (Settings.TopLogprobs == null) return null;
        var texts = new JsonArray();
        var values = new JsonArray();
        var tops = new JsonArray();
        var offsets = new JsonArray();
        int offset = 0;
        foreach (var token in tokens)
        {
            var lp = token.Logprobs!;
            texts.Add(lp.Text);
            values.Add(lp.Logprob);
            var top = new JsonObject();
            foreach (var alternative in lp.Top) top[alternative.Text] = alternative.Logprob;
            tops.Add(top);
            offsets.Add(offset);
            offset += token.Text.Length;
        }
        return new JsonObject { ["tokens"] = texts, ["token_logprobs"] = values, ["top_logprobs"] = tops, ["text_offset"] = offsets };
    }
}

internal sealed class ChatCompletionShape(ServingContext context, GenerationSettings settings) : ResponseShape(context, settings, "chatcmpl-"), IResponseShape
{
    public JsonObject Whole(IReadOnlyList<ChoiceResult> choices, JsonObject usage)
    {
        var list = new JsonArray();
        for (int i = 0; i < choices.Count; i++)
        {
            var choice = new JsonObject
            {
                ["index"] = i,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = choices[i].Text },
                ["logprobs"] = Logprobs(choices[i].Tokens),
                ["finish_reason"] = ChoiceResult.FinishName(choices[i].Finish),
            };
            AddCapture(choice, choices[i].Captures);
            list.Add(choice);
        }
        var whole = Envelope("chat.completion", list);
        whole["usage"] = usage;
        return whole;
    }

    public IEnumerable<JsonObject> Opening(int choices) => Enumerable.Range(0, choices).Select(i => Envelope("chat.completion.chunk",
        [new JsonObject { ["index"] = i, ["delta"] = new JsonObject { ["role"] = "assistant", ["content"] = "" }, ["logprobs"] = null, ["finish_reason"] = null }]));

    public JsonObject Chunk(int choice, GeneratedToken token)
    {
        var delta = new JsonObject();
        if (token.Text.Length > 0 || token.Finish == null) delta["content"] = token.Text;
        var item = new JsonObject { ["index"] = choice, ["delta"] = delta, ["logprobs"] = Logprobs([token]), ["finish_reason"] = Finish(token) };
        AddCapture(item, token.Captures);
        return Envelope("chat.completion.chunk", [item]);
    }

    public JsonObject UsageChunk(JsonObject usage)
    {
        var chunk = Envelope("chat.completion.chunk", []);
        chunk["usage"] = usage;
        return chunk;
    }

    /// <summary>{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}</summary>
    private JsonObject? Logprobs(IReadOnlyList<GeneratedToken> tokens)
    {
        if (Settings.TopLogprobs == null) return null;
        var content = new JsonArray();
        foreach (var token in tokens)
        {
            var lp = token.Logprobs!;
            content.Add(new JsonObject
            {
                ["token"] = lp.Text, ["logprob"] = lp.Logprob, ["bytes"] = Bytes(lp.Text),
                ["top_logprobs"] = new JsonArray(lp.Top.Select(t => (JsonNode?)new JsonObject
                {
                    ["token"] = t.Text, ["logprob"] = t.Logprob, ["bytes"] = Bytes(t.Text),
                }).ToArray()),
            });
        }
        return new JsonObject { ["content"] = content, ["refusal"] = null };
    }
}
