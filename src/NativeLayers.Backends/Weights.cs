namespace NativeLayers.Backends;

/// <summary>
/// A linear layer whose weight may be stored as several tensors stacked along the output dimension (q, k, v
/// written into one fused buffer; gate and up likewise) or as one fused tensor. Bias is optional. Backends run it
/// (<see cref="IComputeBackend.Linear"/>); each keeps what it needs of it (the CPU reads the mapped file in place).
/// </summary>
public sealed class Linear
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
}

public enum NormKind { RmsNorm, LayerNorm }

/// <summary>Norm parameters; RMSNorm has no bias. Gemma's (1 + w) is folded into Weight at load.</summary>
public sealed record NormWeights(PinnedBuffer Weight, PinnedBuffer? Bias);
