namespace NativeLayers.Runtime.Generation;

/// <summary>How to continue prompts. Temperature 0 is greedy; sampling is reproducible for a given seed.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;
    public float Temperature { get; init; }
    /// <summary>Keep only the k most probable tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (1 = off).</summary>
    public float TopP { get; init; } = 1f;
    public int Seed { get; init; }
    /// <summary>Tokens that end a sequence; null = the model's EOS ids (generation_config.json, then config.json).</summary>
    public IReadOnlyCollection<int>? StopTokens { get; init; }
    /// <summary>Steering applied to every prompt (prefill and decode; see <see cref="Hooks.TokenSelection"/> to limit it).</summary>
    public Hooks.SteeringPlan? Steering { get; init; }
    /// <summary>A plan (or null) per prompt; overrides <see cref="Steering"/>.</summary>
    public IReadOnlyList<Hooks.SteeringPlan?>? PromptSteering { get; init; }
    /// <summary>Generate past the model's context (max_position_embeddings); by default that is an error before anything runs.</summary>
    public bool AllowContextOverflow { get; init; }

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new Loading.NativeLayersException($"max new tokens must be ≥ 0, got {MaxNewTokens}.");
        if (Temperature < 0 || !float.IsFinite(Temperature)) throw new Loading.NativeLayersException($"temperature must be ≥ 0, got {Temperature}.");
        if (TopK < 0) throw new Loading.NativeLayersException($"top-k must be ≥ 0, got {TopK}.");
        if (!(TopP > 0 && TopP <= 1)) throw new Loading.NativeLayersException($"top-p must be in (0, 1], got {TopP}.");
    }
}

public enum StopReason { EndOfSequence, MaxTokens }

/// <summary>One prompt's continuation.</summary>
public sealed record GenerationOutput(int[] PromptIds, int[] NewIds, StopReason StopReason);
