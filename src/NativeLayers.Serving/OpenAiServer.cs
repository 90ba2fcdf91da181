using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving;

/// <summary>
/// An OpenAI-compatible HTTP server over one model (Kestrel, minimal APIs): /v1/models, /v1/completions,
/// /v1/chat/completions (streamed as server-sent events on request), the steering vector registry, /health and
/// /metrics. Requests run in one continuously batched <see cref="InferenceEngine"/>; each carries its own steering
/// and capture as extension fields.
/// </summary>
public sealed class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly InferenceEngine _engine;

    private OpenAiServer(WebApplication app, InferenceEngine engine, string url)
    {
        _app = app;
        _engine = engine;
        Url = url;
    }

    /// <summary>The address it listens on, e.g. http://127.0.0.1:8000 (the chosen port when the options asked for 0).</summary>
    public string Url { get; }
    public InferenceEngine Engine => _engine;

    /// <summary>Starts listening; the server owns the engine it makes, not the model.</summary>
    public static async Task<OpenAiServer> StartAsync(Transformer model, ServerOptions options, Action<ILoggingBuilder>? logging = null, CancellationToken cancellation = default)
    {
        var address = options.Host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(options.Host, out var parsed) ? parsed
            : throw new NativeLayersException($"--host must be an IP address or localhost, got '{options.Host}'.");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(address, options.Port);
            kestrel.Limits.MaxRequestBodySize = options.Limits.MaxBodyBytes;
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        var engine = new InferenceEngine(model, options.Engine);
        try
        {
            Map(app, new ServingContext(model, engine, options));
            await app.StartAsync(cancellation);
        }
        catch
        {
            engine.Dispose();
            await app.DisposeAsync();
            throw;
        }
        string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new OpenAiServer(app, engine, url.Replace("[::]", "localhost"));
    }

    private static void Map(WebApplication app, ServingContext context)
    {
        var completions = new CompletionEndpoints(context);
        var vectors = new VectorEndpoints(context);
        app.Use((http, next) => Guard(http, next, context));
        app.MapGet("/health", (HttpContext http) => Json(http, new JsonObject { ["status"] = "ok" }));
        app.MapGet("/metrics", (HttpContext http) =>
        {
            http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return http.Response.WriteAsync(context.Metrics.Render(context.Engine.Statistics));
        });
        app.MapGet("/v1/models", (HttpContext http) => Json(http, new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(Model(context)),
        }));
        app.MapGet("/v1/models/{name}", (HttpContext http, string name) => name == context.ModelName
            ? Json(http, Model(context))
            : throw new ApiException(StatusCodes.Status404NotFound, $"the model '{name}' does not exist.", "model", "model_not_found"));
        app.MapPost("/v1/completions", completions.Completions);
        app.MapPost("/v1/chat/completions", completions.ChatCompletions);
        app.MapPost("/v1/steering_vectors", vectors.Upload);
        app.MapGet("/v1/steering_vectors", vectors.List);
        app.MapGet("/v1/steering_vectors/{name}", (HttpContext http, string name) => vectors.Get(http, name));
        app.MapDelete("/v1/steering_vectors/{name}", (HttpContext http, string name) => vectors.Delete(http, name));
        app.MapFallback((HttpContext http) => throw new ApiException(StatusCodes.Status404NotFound, $"no endpoint {http.Request.Method} {http.Request.Path}.", code: "not_found"));
    }

    private static JsonObject Model(ServingContext context) => new()
    {
        ["id"] = context.ModelName, ["object"] = "model", ["created"] = context.Started.ToUnixTimeSeconds(), ["owned_by"] = "nativelayers",
        ["max_model_len"] = context.Model.Config.MaxPositions,
    };

    /// <summary>The API key check and the one place every error becomes OpenAI's error JSON (or, mid-stream, an error event).</summary>
    private static async Task Guard(HttpContext http, RequestDelegate next, ServingContext context)
    {
        try
        {
            if (context.Options.ApiKey is { } key && http.Request.Path != "/health" && !Authorized(http, key))
                throw new ApiException(StatusCodes.Status401Unauthorized, "a valid API key is needed: send 'Authorization: Bearer KEY'.", code: "invalid_api_key");
            await next(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away; its sequences have left the batch
        }
        catch (Exception e)
        {
            var (status, body) = e switch
            {
                ApiException api => (api.Status, api.Body()),
                EngineBusyException busy => (StatusCodes.Status429TooManyRequests, ApiException.Body(busy.Message, "rate_limit_error", null, "server_busy")),
                BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status413RequestEntityTooLarge =>
                    (bad.StatusCode, ServingContext.TooLarge(context.Options.Limits.MaxBodyBytes).Body()),
                BadHttpRequestException bad => (bad.StatusCode, ApiException.Body(bad.Message, "invalid_request_error", null, null)),
                NativeLayersException user => (StatusCodes.Status400BadRequest, ApiException.Body(user.Message, "invalid_request_error", null, null)),
                _ => (StatusCodes.Status500InternalServerError, ApiException.Body($"internal error: {e.GetType().Name}: {e.Message}", "server_error", null, null)),
            };
            await WriteError(http, status, body, retry: status == StatusCodes.Status429TooManyRequests);
        }
        finally
        {
            context.Metrics.Request(KnownPath(http.Request.Path), http.Response.StatusCode);
        }
    }

    private static async Task WriteError(HttpContext http, int status, byte[] body, bool retry)
    {
        if (http.Response.HasStarted)
        {
            // Mid-stream the status is gone: the error travels as the last event.
            if (http.RequestAborted.IsCancellationRequested) return;
            await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($"data: {Encoding.UTF8.GetString(body)}\n\n"));
            return;
        }
        http.Response.Clear();
        http.Response.StatusCode = status;
        if (retry) http.Response.Headers.RetryAfter = "1";
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(body);
    }

    private static bool Authorized(HttpContext http, string key)
    {
        string header = http.Request.Headers.Authorization.FirstOrDefault() ?? "";
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[7..].Trim()), Encoding.UTF8.GetBytes(key));
    }

    private static string KnownPath(PathString path) => path.Value switch
    {
        "/health" or "/metrics" or "/v1/models" or "/v1/completions" or "/v1/chat/completions" or "/v1/steering_vectors" => path.Value,
        var p when p?.StartsWith("/v1/steering_vectors/") == true => "/v1/steering_vectors/{name}",
        var p when p?.StartsWith("/v1/models/") == true => "/v1/models/{name}",
        _ => "other",
    };

    private static Task Json(HttpContext http, JsonObject body)
    {
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(body.ToJsonString(ServingJson.Options));
    }

    /// <summary>Waits until the server is stopped (Ctrl+C on a console host, or <paramref name="cancellation"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => _app.WaitForShutdownAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _engine.Dispose();
    }
}
