using System.ClientModel;
using Microsoft.Extensions.AI;
using NativeLayers.Runtime.Generation;
using OpenAI;
using OpenAI.Chat;

namespace NativeLayers.Serving.Tests;

/// <summary>The official OpenAI .NET SDK and Microsoft.Extensions.AI talking to the server, plus raw completions.</summary>
public sealed class ClientTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private ChatClient Chat() => new(ServerFixture.ModelName, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.Server.Url + "/v1") });

    /// <summary>What greedy generation gives for a chat prompt rendered with the test template.</summary>
    private string Expected(string userText, int maxTokens)
    {
        var ids = server.Model.Tokenizer.Encode(userText, addSpecialTokens: false);
        var result = new Generator(server.Model).Generate([ids], new GenerationOptions { MaxNewTokens = maxTokens })[0];
        return server.Model.Tokenizer.DecodeContinuation(ids, result.NewIds);
    }

    [Fact]
    public async Task OpenAiSdkChatWholeAndStreamed()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };
        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage("Once upon a time")], options);
        Assert.Equal(Expected("Once upon a time", 12), completion.Content[0].Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);

        var streamed = new System.Text.StringBuilder();
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("Once upon a time")], options))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
        Assert.Equal(completion.FinishReason, finish);
    }

    [Fact]
    public async Task OpenAiSdkLogprobs()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage("Lily was")], options);
        Assert.Equal(5, completion.ContentTokenLogProbabilities.Count);
        foreach (var token in completion.ContentTokenLogProbabilities)
        {
            Assert.Equal(3, token.TopLogProbabilities.Count);
            // Greedy: the chosen token is the most probable one.
            Assert.Equal(token.TopLogProbabilities[0].LogProbability, token.LogProbability, 5);
            Assert.True(token.LogProbability <= 0);
        }
    }

    [Fact]
    public async Task MicrosoftExtensionsAiWholeAndStreamed()
    {
        IChatClient client = Chat().AsIChatClient();
        var options = new ChatOptions { MaxOutputTokens = 10, Temperature = 0 };
        var response = await client.GetResponseAsync("Tom and Sue", options);
        Assert.Equal(Expected("Tom and Sue", 10), response.Text);
        Assert.NotNull(response.Usage);

        var streamed = new System.Text.StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync("Tom and Sue", options)) streamed.Append(update.Text);
        Assert.Equal(response.Text, streamed.ToString());
    }

    [Fact]
    public async Task RawCompletionsWithUsageLogprobsChoicesAndStreaming()
    {
        var http = server.Http;
        var whole = await Raw.Ok(http, "/v1/completions", new { model = ServerFixture.ModelName, prompt = "Once upon a time", max_tokens = 8, temperature = 0.8, seed = 11, n = 2, logprobs = 2 });
        Assert.Equal("text_completion", (string?)whole["object"]);
        var choices = whole["choices"]!.AsArray();
        Assert.Equal(2, choices.Count);
        int prompt = server.Model.Tokenizer.Encode("Once upon a time").Length;
        Assert.Equal(2 * prompt, (int)whole["usage"]!["prompt_tokens"]!);
        foreach (var choice in choices)
        {
            Assert.Equal(choice!["logprobs"]!["tokens"]!.AsArray().Count, choice["logprobs"]!["token_logprobs"]!.AsArray().Count);
            Assert.Equal(2, choice["logprobs"]!["top_logprobs"]![0]!.AsObject().Count);
        }
        // Choice i samples with seed + i, as the generator samples prompt i of a batch.
        var ids = server.Model.Tokenizer.Encode("Once upon a time");
        var generated = new Generator(server.Model).Generate([ids, ids], new GenerationOptions { MaxNewTokens = 8, Temperature = 0.8f, Seed = 11 });
        for (int i = 0; i < 2; i++)
            Assert.Equal(server.Model.Tokenizer.DecodeContinuation(ids, generated[i].NewIds), (string?)choices[i]!["text"]);

        var events = await Raw.Stream(http, "/v1/completions", new { prompt = "Once upon a time", max_tokens = 8, temperature = 0.8, seed = 11, stream = true, stream_options = new { include_usage = true } });
        Assert.Equal((string?)choices[0]!["text"], string.Concat(events.Where(e => e["choices"]!.AsArray().Count > 0).Select(e => (string?)e["choices"]![0]!["text"])));
        Assert.Equal(prompt, (int)events[^1]["usage"]!["prompt_tokens"]!);
        Assert.Equal("length", (string?)events[^2]["choices"]![0]!["finish_reason"]);

        var models = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/v1/models"))!;
        Assert.Equal(ServerFixture.ModelName, (string?)models["data"]![0]!["id"]);
        Assert.Equal("{\"status\":\"ok\"}", await http.GetStringAsync("/health"));
        string metrics = await http.GetStringAsync("/metrics");
        foreach (var name in new[] { "nl_http_requests_total{", "nl_generation_tokens_total", "nl_batch_size", "nl_queue_length", "nl_generation_tokens_per_second", "nl_request_duration_seconds_bucket{le=\"+Inf\"}", "nl_time_to_first_token_seconds_count" })
            Assert.Contains(name, metrics);
    }
}
