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
}
