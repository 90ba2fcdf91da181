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
    /// <summary>Gemma 2/3: the attention scale is query_pre_attn_scalar^-0.5 instead of head_dim^-0.5.</summary>
    public double? QueryPreAttnScalar { get; init; }
    /// <summary>Gemma 2: scores = c · tanh(scores / c) before the mask (attn_logit_softcapping).</summary>
    public double? AttentionSoftCap { get; init; }
    /// <summary>Gemma 2: logits = c · tanh(logits / c) (final_logit_softcapping).</summary>
    public double? FinalLogitSoftCap { get; init; }
    /// <summary>Gemma 3: every n-th layer is global, the others local (sliding_window_pattern).</summary>
    public int? SlidingWindowPattern { get; init; }
    /// <summary>Gemma 3: the RoPE base of local (sliding-window) layers (rope_local_base_freq).</summary>
    public double? RopeLocalTheta { get; init; }
    /// <summary>Mixture of experts (Mixtral): experts per MLP (num_local_experts) and experts each token uses (num_experts_per_tok); 0 = a dense MLP.</summary>
    public int Experts { get; init; }
    public int ExpertsPerToken { get; init; }
    /// <summary>Mamba: the selective state-space mixer that replaces attention and MLP; null for attention models.</summary>
    public StateSpaceConfig? StateSpace { get; init; }

    public int QueryGroupSize => NumHeads / NumKvHeads;
}

/// <summary>
/// Mamba's mixer (channels = intermediate_size, i.e. expand · hidden_size): a state of <paramref name="StateSize"/> values
/// per channel (state_size), a causal conv of <paramref name="ConvKernel"/> taps (conv_kernel), and Δ through a
/// bottleneck of <paramref name="TimeStepRank"/> (time_step_rank; "auto" = ⌈hidden / 16⌉); bias flags use_bias (in and
/// out projections) and use_conv_bias.
/// </summary>
public sealed record StateSpaceConfig(int StateSize, int ConvKernel, int TimeStepRank, bool ProjectionBias, bool ConvBias);

/// <summary>
/// RoPE frequency scaling ("linear", "llama3", "yarn" or "longrope"); null in config means none. YaRN's BetaFast/BetaSlow
/// bound the dims it blends between extrapolation and interpolation, and AttentionFactor scales cos and sin. LongRoPE
/// (Phi-3-128k, Phi-3.5) divides each frequency by its own factor: <see cref="ShortFactor"/> while a sequence fits in
/// <see cref="OriginalMaxPositions"/>, <see cref="LongFactor"/> once it is longer.
/// </summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositions = 8192,
    double BetaFast = 32, double BetaSlow = 1, double? AttentionFactor = null, double[]? ShortFactor = null, double[]? LongFactor = null)
{
    public bool IsLongRope => Type == "longrope";
}
