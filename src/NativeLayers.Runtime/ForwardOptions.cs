using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime;

/// <summary>What a forward call computes besides the residual slots: logits, captured sub-layer points, steering.</summary>
public sealed record ForwardOptions
{
    /// <summary>Null = every token's logits when the model has a head, none otherwise.</summary>
    public LogitsMode? Logits { get; init; }
    /// <summary>Token types per token (BERT segments); null = all 0.</summary>
    public IReadOnlyList<int[]>? TokenTypes { get; init; }
    /// <summary>One plan for every sequence of the call.</summary>
    public SteeringPlan? Steering { get; init; }
    /// <summary>A plan (or null) per sequence; overrides <see cref="Steering"/>.</summary>
    public IReadOnlyList<SteeringPlan?>? SequenceSteering { get; init; }
    /// <summary>Computed points to keep (attn_out, mlp_out, resid_mid, final_normalized). Slot points are always there.</summary>
    public IReadOnlyCollection<HookId>? Capture { get; init; }
    /// <summary>
    /// Residual slots wanted in the result's stream; null = all. The others are computed in reused scratch buffers and
    /// left unfilled in the stream, on every backend (generation asks for none; a capture for the slots it keeps).
    /// </summary>
    public IReadOnlyCollection<int>? HostSlots { get; init; }
    /// <summary>
    /// Stop once this residual slot is computed (TransformerLens' stop_at_layer): the blocks after it do not run, the
    /// later slots stay unfilled and no logits are made. Only for fresh sequences that keep no cache (the
    /// <c>Forward(batch, options)</c> and <c>ForwardFrom</c> calls), since the skipped blocks would leave holes in a KV cache.
    /// </summary>
    public int? StopAtSlot { get; init; }
    /// <summary>Run positions past the model's context (max_position_embeddings, RoPE models only); by default an error.</summary>
    public bool AllowContextOverflow { get; init; }
    /// <summary>Told after each block of a call (blocks done, blocks in all): progress for one long forward.</summary>
    public IProgress<(int Done, int Total)>? LayerProgress { get; init; }
}
