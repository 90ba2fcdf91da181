using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace NativeLayers.Serving;

/// <summary>A streamed response as OpenAI streams it: "data: {json}" events, then "data: [DONE]".</summary>
internal sealed class ServerSentEvents(HttpResponse response)
{
    public async Task Start(CancellationToken cancellation)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(cancellation);
    }

    public Task Send(JsonObject data, CancellationToken cancellation) => Write($"data: {data.ToJsonString(ServingJson.Options)}\n\n", cancellation);

    public Task Done(CancellationToken cancellation) => Write("data: [DONE]\n\n", cancellation);

    private async Task Write(string text, CancellationToken cancellation)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellation);
        await response.Body.FlushAsync(cancellation);
    }
}
