namespace NativeLayers.Loading;

/// <summary>Activation functions, named as Hugging Face configs name them.</summary>
public enum Activation
{
    Silu,
    GeluTanh,
    Gelu,
    Relu,
    /// <summary>SoLU: x · softmax(x) over the MLP width, followed by a LayerNorm inside the MLP (Elhage et al. 2022).</summary>
    SoluLn,
}

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
    /// <summary>Dims of each head that RoPE rotates: head_dim for Llama-family, rotary_pct · head_dim for GPT-NeoX, 0 for learned positions.</summary>
    public required int RotaryDim { get; init; }
    public required double RopeTheta { get; init; }
    public RopeScaling? RopeScaling { get; init; }
    public required int MaxPositions { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    public required Activation Activation { get; init; }
    /// <summary>Keys visible to a query beyond itself (HF 4.40 semantics: i - W ≤ j ≤ i), or null for plain causal.</summary>
    public int? SlidingWindow { get; init; }
    public bool AttentionBias { get; init; }
    /// <summary>GPT-NeoX use_parallel_residual: attention and MLP both read the block input.</summary>
    public bool ParallelResidual { get; init; }
    /// <summary>BERT token-type (segment) vocabulary; 0 when the model has none.</summary>
    public int TypeVocabSize { get; init; }
    public int? PadTokenId { get; init; }
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];
    public string? TorchDtype { get; init; }

    public int QueryGroupSize => NumHeads / NumKvHeads;
}

/// <summary>RoPE frequency scaling ("linear" or "llama3"); null in config means none.</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositions = 8192);
