using NativeLayers.Backends;

namespace NativeLayers.Runtime.Models;

public sealed class BlockWeights
{
    /// <summary>The norm before attention (or the state-space mixer); null when attention reads the residual itself (OLMo 2).</summary>
    public required NormWeights? AttentionNorm { get; init; }
    /// <summary>Fused projection producing [q (heads·headDim) | k (kvHeads·headDim) | v (kvHeads·headDim)]; null without attention (Mamba).</summary>
    public required Linear? Qkv { get; init; }
    public required Linear? Output { get; init; }
    /// <summary>Mamba's selective state-space mixer, in place of attention and MLP; null in transformers.</summary>
    public StateSpaceMixerWeights? Mixer { get; init; }
    /// <summary>The norm before the MLP; null when the MLP reads the residual itself (OLMo 2).</summary>
    public required NormWeights? MlpNorm { get; init; }
    /// <summary>Norms of the attention and MLP outputs, before they join the residual (Gemma 2/3, OLMo 2); null = none.</summary>
    public NormWeights? AttentionOutputNorm { get; init; }
    public NormWeights? MlpOutputNorm { get; init; }
    /// <summary>q and k norms (see <see cref="ArchitectureSpec.QkNorm"/>); null = none.</summary>
    public NormWeights? QNorm { get; init; }
    public NormWeights? KNorm { get; init; }
    /// <summary>[gate | up] for gated MLPs, [up] otherwise; null when the MLP is a mixture of experts.</summary>
    public required Linear? Up { get; init; }
    public required Linear? Down { get; init; }
    /// <summary>A sparse mixture of experts in place of the dense MLP (Mixtral); null for a dense MLP.</summary>
    public ExpertWeights? Experts { get; init; }
    /// <summary>The LayerNorm inside a SoLU MLP (after x · softmax(x)); null otherwise.</summary>
    public NormWeights? MlpInnerNorm { get; init; }
}

/// <summary>
/// A mixture-of-experts MLP: the router ([experts, hidden], logits per token) and each expert's [gate | up] and down
/// projections; every token runs its <see cref="PerToken"/> highest-scoring experts, weighted by their renormalised softmax.
/// </summary>
public sealed record ExpertWeights(Linear Router, Linear[] Up, Linear[] Down, int PerToken)
{
    public int Count => Up.Length;
}

/// <summary>
/// Mamba's mixer: in_proj to [u | z] (2 · channels), the causal conv and scan parameters, x_proj to [Δ in (rank) | B (N) |
/// C (N)], dt_proj (rank → channels, with bias) and out_proj back to the stream.
/// </summary>
public sealed record StateSpaceMixerWeights(Linear InProjection, Linear XProjection, Linear DtProjection, Linear OutProjection, StateSpaceWeights Scan)
{
    public int Channels => Scan.Channels;
    public int TimeStepRank => DtProjection.InFeatures;
}

public sealed class ModelWeights
{
    public required WeightMatrix Embedding { get; init; }
    /// <summary>Learned absolute positions (GPT-2, BERT), added to the token embedding.</summary>
    public WeightMatrix? PositionEmbedding { get; init; }
    /// <summary>Token types / segments (BERT).</summary>
    public WeightMatrix? TokenTypeEmbedding { get; init; }
    /// <summary>Norm applied to the summed embeddings before slot 0 (BERT).</summary>
    public NormWeights? EmbeddingNorm { get; init; }
    public required BlockWeights[] Blocks { get; init; }
    /// <summary>Null for encoders without a final norm (BERT's last layer ends in its own LayerNorm).</summary>
    public NormWeights? FinalNorm { get; init; }
    /// <summary>Null when the model has no language-model head.</summary>
    public Linear? Head { get; init; }
    /// <summary>BERT's pooler: tanh(dense(h[CLS])).</summary>
    public Linear? Pooler { get; init; }
}
