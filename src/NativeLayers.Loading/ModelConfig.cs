namespace NativeLayers.Loading;

/// <summary>Activation functions, named as Hugging Face configs name them.</summary>
public enum Activation { Silu, GeluTanh, Gelu, Relu }

/// <summary>
/// Typed settings of a Hugging Face <c>config.json</c>. Fields are architecture-neutral; which of them a model
/// uses is decided by its recipe in the runtime.
/// </summary>
public sealed record ModelConfig
{
    public required string ModelType { get; init; }
    public required string SourcePath { get; init; }
    public string[] Architectures { get; init; } = [];
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int IntermediateSize { get; init; }
    public required double NormEps { get; init; }
    public required double RopeTheta { get; init; }
    public RopeScaling? RopeScaling { get; init; }
    public required int MaxPositions { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    public required Activation Activation { get; init; }
    /// <summary>Keys visible to a query beyond itself (HF 4.40 semantics: i - W ≤ j ≤ i), or null for plain causal.</summary>
    public int? SlidingWindow { get; init; }
    public bool AttentionBias { get; init; }
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];
    public string? TorchDtype { get; init; }

    public int QueryGroupSize => NumHeads / NumKvHeads;
}

/// <summary>RoPE frequency scaling ("linear" or "llama3"); null in config means none.</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositions = 8192);
