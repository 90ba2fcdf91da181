using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeLayers.Runtime;

namespace NativeLayers.Serving.Tests;

/// <summary>A server on 127.0.0.1 with a free port over the repository's stories260k, started once for a test class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    /// <summary>stories260k has no chat template: the tests give it a plain one.</summary>
    public const string ChatTemplate = "{% for m in messages %}{{ m['content'] }}{% if not loop.last %} {% endif %}{% endfor %}";
    public const string ModelName = "stories260k";

    public Transformer Model { get; private set; } = null!;
    public OpenAiServer Server { get; private set; } = null!;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    public async Task InitializeAsync()
    {
        Model = Transformer.Load(ReferenceData.Stories260k, new RuntimeOptions { Threads = 2 });
        Server = await OpenAiServer.StartAsync(Model, new ServerOptions
        {
            Port = 0, ModelName = ModelName, ChatTemplate = ChatTemplate, Limits = new RequestLimits { MaxBodyBytes = 1 << 20, MaxCaptureValues = 1 << 20 },
        });
        Http.BaseAddress = new Uri(Server.Url);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Model.Dispose();
    }
}

/// <summary>Raw HTTP as curl would send it.</summary>
internal static class Raw
{
    public static async Task<(int Status, JsonNode? Body, HttpResponseMessage Response)> Post(HttpClient http, string path, string json, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key != null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var response = await http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null, response);
    }

    public static async Task<JsonNode> Ok(HttpClient http, string path, object body)
    {
        var (status, json, _) = await Post(http, path, JsonSerializer.Serialize(body));
        Assert.True(status == 200, $"{path}: {status} {json?.ToJsonString()}");
        return json!;
    }

    /// <summary>The data events of a streamed response, up to [DONE].</summary>
    public static async Task<List<JsonNode>> Stream(HttpClient http, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<JsonNode>();
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ")) continue;
            if (line == "data: [DONE]") { done = true; break; }
            events.Add(JsonNode.Parse(line[6..])!);
        }
        Assert.True(done, "the stream ended without [DONE]");
        return events;
    }
}
