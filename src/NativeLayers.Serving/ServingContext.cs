using Microsoft.AspNetCore.Http;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Serving;
using NativeLayers.Tokenizing.Chat;

namespace NativeLayers.Serving;

/// <summary>What every endpoint shares: the model, its engine, the vector registry, the chat template, the limits and the metrics.</summary>
internal sealed class ServingContext(Transformer model, InferenceEngine engine, ServerOptions options)
{
    private readonly Lazy<ChatTemplate?> _chatTemplate = new(() => options.ChatTemplate is { } text
        ? ChatTemplate.FromText(text, ChatTemplate.SpecialTokens(model.Folder.Directory))
        : ChatTemplate.FromModelFolder(model.Folder.Directory));

    public Transformer Model { get; } = model;
    public InferenceEngine Engine { get; } = engine;
    public ServerOptions Options { get; } = options;
    public string ModelName { get; } = options.ModelName ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(model.Folder.Directory));
    public VectorRegistry Registry { get; } = new(model.Width, model.Layers, options.Limits.MaxRegisteredVectors);
    public ServerMetrics Metrics { get; } = new();
    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    public ChatTemplate ChatTemplate => _chatTemplate.Value ?? throw ApiException.BadRequest(
        $"the model {ModelName} has no chat_template in tokenizer_config.json; use /v1/completions, or start the server with --chat-template FILE.");

    /// <summary>The body, read up to the size limit (a larger one is a 413 before it is read whole).</summary>
    public async Task<byte[]> ReadBody(HttpContext http)
    {
        long limit = Options.Limits.MaxBodyBytes;
        if (http.Request.ContentLength > limit) throw TooLarge(limit);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit) throw TooLarge(limit);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    public static ApiException TooLarge(long limit) => new(StatusCodes.Status413RequestEntityTooLarge, $"the request body is larger than the {limit} bytes allowed.", code: "request_too_large");

    public async Task<RequestObject> ReadJson(HttpContext http) => RequestObject.Parse(await ReadBody(http));

    /// <summary>A request naming another model is a 404, as OpenAI answers it.</summary>
    public void CheckModel(RequestObject body)
    {
        if (body.String("model") is { } name && name != ModelName)
            throw new ApiException(StatusCodes.Status404NotFound, $"the model '{name}' does not exist; this server serves '{ModelName}'.", "model", "model_not_found");
    }
}
