using NativeLayers.Loading;

namespace NativeLayers.Runtime.Serving;

/// <summary>Limits of an <see cref="InferenceEngine"/>: how many sequences run at once and how much work may wait.</summary>
public sealed record EngineOptions
{
    /// <summary>Sequences decoded together in one forward call.</summary>
    public int MaxBatch { get; init; } = 32;
    /// <summary>Requests waiting for a place in the batch; more are refused (<see cref="EngineBusyException"/>).</summary>
    public int MaxQueued { get; init; } = 256;
    /// <summary>Prompt plus max-tokens of every running and waiting request together (bounds the KV caches); more are refused.</summary>
    public long MaxTokensInFlight { get; init; } = 1 << 20;
    /// <summary>Prompt tokens prefilled per step, so that a long prompt joins in chunks without stalling running decodes.</summary>
    public int PrefillChunkTokens { get; init; } = 256;

    public void Validate()
    {
        if (MaxBatch < 1) throw new NativeLayersException($"the batch must hold at least one sequence, got {MaxBatch}.");
        if (MaxQueued < 0) throw new NativeLayersException($"the queue length must be ≥ 0, got {MaxQueued}.");
        if (MaxTokensInFlight < 1) throw new NativeLayersException($"tokens in flight must be ≥ 1, got {MaxTokensInFlight}.");
        if (PrefillChunkTokens < 1) throw new NativeLayersException($"the prefill chunk must be ≥ 1 token, got {PrefillChunkTokens}.");
    }
}

/// <summary>The engine is at its limits; the request may be tried again later.</summary>
public sealed class EngineBusyException(string message) : NativeLayersException(message);

/// <summary>A snapshot of what an engine is doing and has done.</summary>
public readonly record struct EngineStatistics(int Running, int Queued, long TokensInFlight, long RequestsAdmitted, long RequestsRefused,
    long TokensGenerated, long PromptTokens, long Steps, long StepRows);
