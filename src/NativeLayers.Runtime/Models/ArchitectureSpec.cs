using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>Where the norms sit and how the two sub-layers meet the residual stream.</summary>
public enum BlockLayout
{
    /// <summary>x += attn(norm1(x)); x += mlp(norm2(x)) (Llama, GPT-2, sequential GPT-NeoX).</summary>
    PreNorm,
    /// <summary>x += attn(norm1(x)) + mlp(norm2(x)), both reading the block input (GPT-NeoX / Pythia).</summary>
    Parallel,
    /// <summary>x = norm1(x + attn(x)); x = norm2(x + mlp(x)) (BERT).</summary>
    PostNorm,
    /// <summary>x += mixer(norm(x)), one selective state-space mixer in place of attention and MLP (Mamba).</summary>
    StateSpace,
}

/// <summary>
/// What distinguishes one architecture's block from another's: the recipe reads a config into this, and the one
/// generic block (ForwardPass/TransformerBlock) runs it.
/// </summary>
public sealed record ArchitectureSpec
{
    public required NormKind Norm { get; init; }
    public BlockLayout Layout { get; init; } = BlockLayout.PreNorm;
    public required float NormEps { get; init; }
    /// <summary>Multiplier applied to token embeddings (Gemma: sqrt(hidden_size) rounded to float32).</summary>
    public float EmbeddingScale { get; init; } = 1f;
    public required Activation Activation { get; init; }
    /// <summary>MLP is down(act(gate(x)) · up(x)) when true, down(act(up(x))) otherwise.</summary>
    public required bool GatedMlp { get; init; }
    /// <summary>Dims of each head that RoPE rotates (0 = no rotary embedding).</summary>
    public required int RotaryDim { get; init; }
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    public bool Causal { get; init; } = true;
    public int? SlidingWindow { get; init; }
    /// <summary>Where q and k are normalised before RoPE (Qwen3, Gemma 3: per head; OLMo 2: over the whole projection).</summary>
    public QkNorm QkNorm { get; init; } = QkNorm.None;
    /// <summary>Attention scale; null = 1/√head_dim (Gemma 2/3: query_pre_attn_scalar^-0.5).</summary>
    public float? AttentionScale { get; init; }
    /// <summary>Attention scores become c · tanh(s / c) before the mask (0 = off; Gemma 2).</summary>
    public float AttentionSoftCap { get; init; }
    /// <summary>Logits become c · tanh(z / c) (0 = off; Gemma 2).</summary>
    public float FinalLogitSoftCap { get; init; }
    /// <summary>Per-layer window and RoPE base where layers differ (Gemma 2/3 local/global layers); null = every layer alike.</summary>
    public IReadOnlyList<LayerAttention>? PerLayer { get; init; }

    /// <summary>Layer <paramref name="layer"/>'s sliding window and RoPE base.</summary>
    public LayerAttention Attention(int layer) => PerLayer?[layer] ?? new LayerAttention(SlidingWindow, RopeTheta);
}

/// <summary>How q and k are normalised after their projection (RMSNorm, before RoPE).</summary>
public enum QkNorm
{
    None,
    /// <summary>Over each head's head_dim values (one weight of head_dim shared by the heads).</summary>
    PerHead,
    /// <summary>Over all of q (heads·head_dim) and all of k (kvHeads·head_dim).</summary>
    WholeProjection,
}

/// <summary>One layer's attention reach and rotary base (local layers: a window and often a smaller base).</summary>
public sealed record LayerAttention(int? SlidingWindow, double RopeTheta);
