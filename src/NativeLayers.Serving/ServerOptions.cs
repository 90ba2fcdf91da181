using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving;

/// <summary>Where the server listens, who may call it, and the limits every request is held to.</summary>
public sealed record ServerOptions
{
    /// <summary>Localhost unless asked otherwise: the server has no TLS and one optional key.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 = a free port chosen by the system (see <see cref="RunningServer.Url"/>).</summary>
    public int Port { get; init; } = 8000;
    /// <summary>When set, every endpoint but /health needs "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }
    /// <summary>The id /v1/models lists and responses carry; null = the model folder's name.</summary>
    public string? ModelName { get; init; }
    /// <summary>A Jinja chat template to use instead of (or where there is no) tokenizer_config.json chat_template.</summary>
    public string? ChatTemplate { get; init; }
    /// <summary>SAEs requests may steer with by name ({"sae": NAME, "feature": F, ...} steering entries), loaded at start.</summary>
    public IReadOnlyDictionary<string, Analysis.Saes.SparseAutoencoder> Saes { get; init; } = new Dictionary<string, Analysis.Saes.SparseAutoencoder>();
    public EngineOptions Engine { get; init; } = new();
    public RequestLimits Limits { get; init; } = new();
}

/// <summary>What one request may ask for; past these it gets a 400 (or 413 for the body) in OpenAI's error shape.</summary>
public sealed record RequestLimits
{
    public long MaxBodyBytes { get; init; } = 16 << 20;
    public int MaxPromptTokens { get; init; } = 8192;
    public int MaxTokens { get; init; } = 4096;
    /// <summary>Choices per request (n) times prompts.</summary>
    public int MaxChoices { get; init; } = 16;
    public int MaxStopStrings { get; init; } = 8;
    public int MaxSteeringEntries { get; init; } = 64;
    /// <summary>Floats one request may capture (rows × points × width, at most).</summary>
    public long MaxCaptureValues { get; init; } = 16 << 20;
    public int MaxTopLogprobs { get; init; } = 20;
    /// <summary>Named vectors the registry holds.</summary>
    public int MaxRegisteredVectors { get; init; } = 256;
}
