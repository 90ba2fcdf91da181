using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving.Tests;

/// <summary>Bad requests get OpenAI-shaped errors, limits answer 400/413/429, keys guard every endpoint but /health, and the server keeps serving.</summary>
public sealed class ErrorTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private async Task AssertStillServes()
    {
        var ok = await Raw.Ok(server.Http, "/v1/completions", new { prompt = "Once", max_tokens = 2 });
        Assert.Equal(2, (int)ok["usage"]!["completion_tokens"]!);
    }

    [Theory]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", ", 400, null, "not valid JSON")]
    [InlineData("/v1/completions", "[1, 2]", 400, null, "must be a JSON object")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"temperature\": \"hot\"}", 400, "temperature", "must be a number")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2.5}", 400, "max_tokens", "must be an integer")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"top_p\": 0}", 400, "top_p", "must be in")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 100000}", 400, "max_tokens", "at most")]
    [InlineData("/v1/completions", "{\"prompt\": [1, 99999]}", 400, "prompt", "token ids")]
    [InlineData("/v1/completions", "{}", 400, "prompt", "required")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"model\": \"gpt-4\"}", 404, "model", "does not exist")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"steering\": [{\"vector\": \"nope\", \"layers\": [1]}]}", 400, "steering[0].vector", "no steering vector named")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"steering\": [{\"vector\": [1, 2, 3], \"layers\": [1]}]}", 400, "steering[0].vector", "width")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"steering\": [{\"vector\": \"nope\", \"layers\": [99]}]}", 400, "steering[0].layers", "out of range")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"steering\": {\"vector\": \"x\"}}", 400, "steering", "must be an array")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"steering\": [{\"vector\": [1], \"point\": \"ln_final\", \"layers\": [1]}]}", 400, "steering[0].point", "must be one of")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"capture\": {\"points\": [\"resid_middle\"]}}", 400, "capture.points", "unknown hook point")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"capture\": {\"format\": \"npy\"}}", 400, "capture.format", "float-list")]
    [InlineData("/v1/completions", "{\"prompt\": \"Once\", \"capture\": {\"positions\": \"all\", \"layers\": \"all\"}, \"max_tokens\": 400, \"n\": 16}", 400, "capture", "at most")]
    [InlineData("/v1/chat/completions", "{\"messages\": []}", 400, "messages", "non-empty")]
    [InlineData("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content", "a string or an array")]
    [InlineData("/v1/steering_vectors", "{\"name\": \"w\", \"vector\": [1, 2]}", 400, null, "width")]
    [InlineData("/v1/steering_vectors", "{\"name\": \"bad name!\", \"vector\": [1, 2]}", 400, "name", "a vector name")]
    [InlineData("/v1/steering_vectors", "{\"name\": \"l\", \"layers\": {\"40\": [1]}}", 400, null, "layer 40")]
    public async Task BadRequestsGetOpenAiErrors(string path, string body, int status, string? param, string message)
    {
        var (actual, json, _) = await Raw.Post(server.Http, path, body);
        Assert.True(actual == status, $"{actual}: {json?.ToJsonString()}");
        var error = json!["error"]!;
        Assert.Contains(message, (string?)error["message"]);
        Assert.Equal(param, (string?)error["param"]);
        Assert.NotNull((string?)error["type"]);
        await AssertStillServes();
    }

    [Fact]
    public async Task OversizedBodiesAndBadUploadsAreRefused()
    {
        // As curl sends it: headers announcing 2 MiB, the start of the body, then the answer is read.
        var url = new Uri(server.Server.Url);
        using (var socket = new System.Net.Sockets.TcpClient())
        {
            await socket.ConnectAsync(url.Host, url.Port);
            var stream = socket.GetStream();
            string head = $"POST /v1/completions HTTP/1.1\r\nHost: {url.Authority}\r\nContent-Type: application/json\r\nContent-Length: {2 << 20}\r\n\r\n{{\"prompt\": \"aaaa";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            using var reader = new StreamReader(stream);
            Assert.Equal("HTTP/1.1 413 Payload Too Large", await reader.ReadLineAsync());
            string rest = await reader.ReadToEndAsync();
            Assert.Contains("\"code\":\"request_too_large\"", rest);
        }
        using var junk = new ByteArrayContent(Encoding.UTF8.GetBytes("not a safetensors file at all"));
        junk.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var upload = await server.Http.PostAsync("/v1/steering_vectors?name=junk", junk);
        Assert.Equal(400, (int)upload.StatusCode);
        Assert.Contains("not a steering vector file", await upload.Content.ReadAsStringAsync());
        Assert.Equal(404, (int)(await server.Http.GetAsync("/v1/nothing")).StatusCode);
        await AssertStillServes();
    }

    [Fact]
    public async Task AnAbortedStreamLeavesTheBatch()
    {
        using var cancel = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("{\"prompt\": \"Once\", \"max_tokens\": 400, \"stream\": true, \"ignore_eos\": true}", Encoding.UTF8, "application/json"),
        };
        using (var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            Assert.StartsWith("data: ", await reader.ReadLineAsync(cancel.Token));
            cancel.Cancel();
        }
        for (int i = 0; i < 200 && server.Server.Engine.Statistics.TokensInFlight > 0; i++) await Task.Delay(10);
        Assert.Equal(0, server.Server.Engine.Statistics.TokensInFlight);
        await AssertStillServes();
    }

    [Fact]
    public async Task KeysGuardEveryEndpointButHealthAndBusyMeans429()
    {
        await using var guarded = await OpenAiServer.StartAsync(server.Model, new ServerOptions
        {
            Port = 0, ApiKey = "secret", Engine = new EngineOptions { MaxTokensInFlight = 560 },
        });
        using var http = new HttpClient { BaseAddress = new Uri(guarded.Url) };
        Assert.Equal(200, (int)(await http.GetAsync("/health")).StatusCode);
        Assert.Equal(401, (int)(await http.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(401, (int)(await http.GetAsync("/metrics")).StatusCode);
        var (status, json, _) = await Raw.Post(http, "/v1/completions", "{\"prompt\": \"Once\"}", key: "wrong");
        Assert.Equal(401, status);
        Assert.Equal("invalid_api_key", (string?)json!["error"]!["code"]);

        using var busyRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("{\"prompt\": \"Once\", \"max_tokens\": 500, \"stream\": true, \"ignore_eos\": true}", Encoding.UTF8, "application/json"),
        };
        busyRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "secret");
        using var running = await http.SendAsync(busyRequest, HttpCompletionOption.ResponseHeadersRead);
        var (refused, error, response) = await Raw.Post(http, "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 100}", key: "secret");
        Assert.Equal(429, refused);
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        Assert.Equal("rate_limit_error", (string?)error!["error"]!["type"]);
        await running.Content.ReadAsStringAsync();
        var (after, _, _) = await Raw.Post(http, "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 100}", key: "secret");
        Assert.Equal(200, after);
    }
}
