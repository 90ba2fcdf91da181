using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// A linear layer whose weight may be stored as several tensors stacked along the output dimension (q, k, v
/// written into one fused buffer; gate and up likewise) or as one fused tensor. Bias is optional.
/// </summary>
public sealed unsafe class Linear
{
    public WeightMatrix[] Parts { get; }
    public PinnedBuffer? Bias { get; }
    public int InFeatures { get; }
    public int OutFeatures { get; }

    public Linear(WeightMatrix[] parts, PinnedBuffer? bias)
    {
        Parts = parts;
        Bias = bias;
        InFeatures = parts[0].Cols;
        OutFeatures = parts.Sum(p => p.Rows);
    }

    public long ByteLength => Parts.Sum(p => p.ByteLength);

    /// <summary>y[rows, OutFeatures] (+)= x[rows, InFeatures] · Wᵀ + b (b = <paramref name="bias"/> when given, else the layer's own).</summary>
    public void Apply(WorkerPool pool, float* x, int xStride, int rows, float* y, int yStride, bool accumulate = false, PinnedBuffer? bias = null)
    {
        var b = bias ?? Bias;
        int offset = 0;
        foreach (var part in Parts)
        {
            float* partBias = b == null ? null : b.Pointer + offset;
            MatMul.Run(pool, x, xStride, rows, part, partBias, y + offset, yStride, accumulate);
            offset += part.Rows;
        }
    }
}

/// <summary>Norm parameters; RMSNorm has no bias. Gemma's (1 + w) is folded into Weight at load.</summary>
public sealed record NormWeights(PinnedBuffer Weight, PinnedBuffer? Bias);

public sealed class BlockWeights
{
    public required NormWeights AttentionNorm { get; init; }
    /// <summary>Fused projection producing [q (heads·headDim) | k (kvHeads·headDim) | v (kvHeads·headDim)].</summary>
    public required Linear Qkv { get; init; }
    public required Linear Output { get; init; }
    public required NormWeights MlpNorm { get; init; }
    /// <summary>[gate | up] for gated MLPs, [up] otherwise.</summary>
    public required Linear Up { get; init; }
    public required Linear Down { get; init; }
    /// <summary>The LayerNorm inside a SoLU MLP (after x · softmax(x)); null otherwise.</summary>
    public NormWeights? MlpInnerNorm { get; init; }
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
