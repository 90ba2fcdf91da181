namespace NativeLayers.Loading.Hub;

/// <summary>
/// Where the Hugging Face Hub and its local cache are, and how to reach them. <see cref="FromEnvironment()"/> reads the
/// variables huggingface_hub reads, with the same defaults, so both share one cache; tests build one directly.
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The hub's base address without a trailing slash, e.g. https://huggingface.co.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The cache folder that holds models--ORG--NAME folders.</summary>
    public required string CacheRoot { get; init; }

    /// <summary>Sent as a Bearer token to <see cref="Endpoint"/> only, never to the storage a download is redirected to.</summary>
    public string? Token { get; init; }

    /// <summary>Use only what the cache holds; any request is an error.</summary>
    public bool Offline { get; init; }

    /// <summary>The waits before each retry of a request the hub answered with 5xx or 429, or that could not connect.</summary>
    public IReadOnlyList<TimeSpan> RetryDelays { get; init; } = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)];

    /// <summary>How long a download may receive nothing before it counts as broken off.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public static HubSettings FromEnvironment() =>
        FromEnvironment(Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>
    /// The settings as huggingface_hub derives them: HF_ENDPOINT; HF_HUB_CACHE, else $HF_HOME/hub, else
    /// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; HF_TOKEN, else the token file that
    /// `huggingface-cli login` writes ($HF_TOKEN_PATH, else $HF_HOME/token); HF_HUB_OFFLINE (1, true, yes or on).
    /// </summary>
    public static HubSettings FromEnvironment(Func<string, string?> variable, string home)
    {
        string? Get(string name) => variable(name) is { Length: > 0 } value ? value : null;
        string hfHome = Get("HF_HOME") ?? Path.Combine(Get("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache"), "huggingface");
        string endpoint = (Get("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/');
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new NativeLayersException($"HF_ENDPOINT must be an http or https address such as {DefaultEndpoint}, got '{endpoint}'.");
        return new HubSettings
        {
            Endpoint = endpoint,
            CacheRoot = Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(hfHome, "hub"),
            Token = Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN") ?? ReadTokenFile(Get("HF_TOKEN_PATH") ?? Path.Combine(hfHome, "token")),
            Offline = IsTrue(Get("HF_HUB_OFFLINE") ?? Get("TRANSFORMERS_OFFLINE")),
        };
    }

    private static bool IsTrue(string? value) => value?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static string? ReadTokenFile(string path)
    {
        try { return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } token ? token : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
