using NativeLayers.Loading;

namespace NativeLayers.ModelGen;

/// <summary>
/// One weight tensor of a model folder: its name, shape and role (which sets its init). Matrices are stored
/// [out, in] (nn.Linear) unless <paramref name="Conv1D"/> says [in, out] (GPT-2's Conv1D).
/// </summary>
public sealed record TensorSpec(string Name, long[] Shape, TensorRole Role, bool Conv1D = false)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The input width of a matrix, which sets its init scale.</summary>
    public long FanIn => Conv1D ? Shape[0] : Shape[^1];
}

/// <summary>
/// Matrix = a block's linear layer; ExpertMatrix = one expert's (a token streams only its chosen experts'); Head = an
/// untied LM head; Norm = a norm weight around 1; OffsetNorm = a Gemma norm weight around 0 (applied as 1 + w);
/// Bias = linear and LayerNorm biases (and small state-space parameters).
/// </summary>
public enum TensorRole { Embedding, Matrix, ExpertMatrix, Head, Norm, OffsetNorm, Bias }

/// <summary>
/// The shape of a decoder model in one of three Hugging Face layouts: <c>llama</c> (RMSNorm, SiLU gated MLP, untied
/// lm_head), <c>gpt2</c> (GPT2LMHeadModel: learned positions, LayerNorm, Conv1D, tied head) and <c>gpt_neox</c>
/// (GPTNeoXForCausalLM / Pythia: partial rotary, interleaved fused qkv, parallel or sequential residual, untied embed_out),
/// and <c>qwen3</c> (the Llama layout with an explicit head_dim, per-head q/k RMSNorms and a tied head), <c>gemma2</c>
/// (norms around both sub-layers, soft caps, alternating local/global layers, tied head), <c>mixtral</c> (the Llama
/// layout with a sparse mixture of experts) and <c>mamba</c> (MambaForCausalLM: selective state-space blocks, tied head).
/// </summary>
public sealed record ModelSpec
{
    public static readonly IReadOnlyList<string> ModelTypes = ["llama", "gpt2", "gpt_neox", "qwen3", "gemma2", "mixtral", "mamba"];

    /// <summary>Activation names the runtime's config reader accepts (config.json spelling).</summary>
    public static readonly IReadOnlyList<string> ActivationNames = ["silu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "solu_ln"];

    public string ModelType { get; init; } = "llama";
    public required int Hidden { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int Intermediate { get; init; }
    public required int Vocab { get; init; }
    public int MaxPositions { get; init; } = 2048;
    /// <summary>rope_theta (llama) or rotary_emb_base (gpt_neox).</summary>
    public double RopeTheta { get; init; } = 10000;
    public double NormEps { get; init; } = 1e-5;
    /// <summary>config.json activation name; null = the model type's default (silu, gelu_new, gelu).</summary>
    public string? Activation { get; init; }
    /// <summary>gpt_neox only: fraction of each head's dims that is rotated.</summary>
    public double RotaryPct { get; init; } = 1.0;
    /// <summary>gpt_neox only: use_parallel_residual (false = sequential pre-LN blocks).</summary>
    public bool ParallelResidual { get; init; } = true;
    /// <summary>qwen3 and gemma2: head_dim when it is not hidden / heads.</summary>
    public int? ExplicitHeadDim { get; init; }
    /// <summary>gemma2: the attention scale is query_pre_attn_scalar^-0.5; local layers see sliding_window keys.</summary>
    public int QueryPreAttnScalar { get; init; } = 256;
    public int SlidingWindow { get; init; } = 4096;
    /// <summary>mixtral: experts per MLP and experts each token runs.</summary>
    public int Experts { get; init; }
    public int ExpertsPerToken { get; init; }
    /// <summary>mamba: scan state per channel (channels = Intermediate), conv taps and Δ's rank.</summary>
    public int StateSize { get; init; } = 16;
    public int ConvKernel { get; init; } = 4;
    public int TimeStepRank { get; init; }

    public int HeadDim => ExplicitHeadDim ?? Hidden / Heads;
    public int RotaryDim => ModelType switch { "gpt2" or "mamba" => 0, "gpt_neox" => (int)(HeadDim * RotaryPct), _ => HeadDim };
    public bool TiedHead => ModelType is "gpt2" or "qwen3" or "gemma2" or "mamba";
    public string DefaultActivation => ModelType switch { "gpt2" => "gelu_new", "gpt_neox" => "gelu", "gemma2" => "gelu_pytorch_tanh", _ => "silu" };
    public string ActivationName => Activation ?? DefaultActivation;
    public int BosTokenId => ModelType switch { "gpt2" => Vocab - 1, "gpt_neox" or "mamba" => 0, _ => ModelType == "gemma2" ? 2 : 1 };
    public int EosTokenId => ModelType switch { "gpt2" => Vocab - 1, "gpt_neox" or "mamba" => 0, _ => ModelType == "gemma2" ? 1 : 2 };

    public static IReadOnlyList<string> PresetNames { get; } =
        ["tiny", "llama-768", "llama-1b", "llama-1.1b", "gpt2-tiny", "gpt2-small", "neox-tiny", "pythia-160m", "qwen3-tiny", "qwen3-0.6b",
            "gemma2-tiny", "gemma2-2b", "mixtral-tiny", "mamba-tiny", "mamba-130m"];

    public static ModelSpec Preset(string name) => name switch
    {
        "tiny" => new() { Hidden = 64, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 128, Vocab = 256, MaxPositions = 512 },
        "llama-768" => new() { Hidden = 768, Layers = 12, Heads = 12, KvHeads = 12, Intermediate = 2048, Vocab = 32000 },
        // TinyLlama-1.1B's shape: grouped KV heads, untied head, ~2.2 GB in bf16.
        "llama-1b" => new() { Hidden = 2048, Layers = 22, Heads = 32, KvHeads = 4, Intermediate = 5632, Vocab = 32000 },
        // Llama-3.2-1B's blocks (GQA 32 / 8, MLP 8192) with a 32000-id vocabulary and an untied head: 1.10 B params.
        "llama-1.1b" => new() { Hidden = 2048, Layers = 16, Heads = 32, KvHeads = 8, Intermediate = 8192, Vocab = 32000 },
        "gpt2-tiny" => Gpt2(hidden: 64, layers: 2, heads: 4, vocab: 320, positions: 128),
        // openai-community/gpt2 (124 M): n_inner null = 4 · n_embd, tied head.
        "gpt2-small" => Gpt2(hidden: 768, layers: 12, heads: 12, vocab: 50257, positions: 1024),
        "neox-tiny" => Neox(hidden: 64, layers: 2, heads: 4, intermediate: 256, vocab: 352, positions: 256),
        // EleutherAI/pythia-160m.
        "pythia-160m" => Neox(hidden: 768, layers: 12, heads: 12, intermediate: 3072, vocab: 50304, positions: 2048),
        "qwen3-tiny" => new() { ModelType = "qwen3", Hidden = 64, Layers = 2, Heads = 4, KvHeads = 2, ExplicitHeadDim = 32, Intermediate = 160, Vocab = 320, MaxPositions = 512, RopeTheta = 1e6, NormEps = 1e-6 },
        // Qwen/Qwen3-0.6B's shape: head_dim 128 with 16 query / 8 kv heads on a 1024-wide stream, tied head.
        "qwen3-0.6b" => new() { ModelType = "qwen3", Hidden = 1024, Layers = 28, Heads = 16, KvHeads = 8, ExplicitHeadDim = 128, Intermediate = 3072, Vocab = 151936, MaxPositions = 40960, RopeTheta = 1e6, NormEps = 1e-6 },
        "gemma2-tiny" => new() { ModelType = "gemma2", Hidden = 64, Layers = 3, Heads = 4, KvHeads = 2, ExplicitHeadDim = 32, Intermediate = 128, Vocab = 320,
            MaxPositions = 512, QueryPreAttnScalar = 32, SlidingWindow = 8, NormEps = 1e-6 },
        // google/gemma-2-2b's shape: head_dim 256 with 8 query / 4 kv heads on a 2304-wide stream, 4096-key local layers, tied head.
        "gemma2-2b" => new() { ModelType = "gemma2", Hidden = 2304, Layers = 26, Heads = 8, KvHeads = 4, ExplicitHeadDim = 256, Intermediate = 9216, Vocab = 256000,
            MaxPositions = 8192, QueryPreAttnScalar = 256, SlidingWindow = 4096, NormEps = 1e-6 },
        "mixtral-tiny" => new() { ModelType = "mixtral", Hidden = 64, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 96, Vocab = 320, MaxPositions = 512,
            Experts = 4, ExpertsPerToken = 2, RopeTheta = 1e6 },
        "mamba-tiny" => Mamba(hidden: 64, layers: 2, vocab: 320),
        // state-spaces/mamba-130m-hf: 24 blocks of 1536 channels (expand 2), state 16, conv 4, Δ rank 48, tied head.
        "mamba-130m" => Mamba(hidden: 768, layers: 24, vocab: 50280),
        _ => throw new ArgumentException($"unknown preset '{name}' (known: {string.Join(", ", PresetNames)})."),
    };

    private static ModelSpec Mamba(int hidden, int layers, int vocab) => new()
    {
        ModelType = "mamba", Hidden = hidden, Layers = layers, Heads = 1, KvHeads = 1, Intermediate = 2 * hidden, Vocab = vocab,
        TimeStepRank = (hidden + 15) / 16,
    };

    private static ModelSpec Gpt2(int hidden, int layers, int heads, int vocab, int positions) => new()
    {
        ModelType = "gpt2", Hidden = hidden, Layers = layers, Heads = heads, KvHeads = heads, Intermediate = 4 * hidden,
        Vocab = vocab, MaxPositions = positions,
    };

    private static ModelSpec Neox(int hidden, int layers, int heads, int intermediate, int vocab, int positions) => new()
    {
        ModelType = "gpt_neox", Hidden = hidden, Layers = layers, Heads = heads, KvHeads = heads, Intermediate = intermediate,
        Vocab = vocab, MaxPositions = positions, RotaryPct = 0.25,
    };

    /// <summary>Throws when the shape cannot be a valid config of its model type.</summary>
    public ModelSpec Validate()
    {
        if (!ModelTypes.Contains(ModelType))
            throw new ArgumentException($"model type must be one of {string.Join(", ", ModelTypes)}, got '{ModelType}'.");
        if (Hidden <= 0 || Layers <= 0 || Heads <= 0 || KvHeads <= 0 || Intermediate <= 0 || Vocab <= 0 || MaxPositions <= 0)
            throw new ArgumentException("every dimension must be positive.");
        if (ExplicitHeadDim == null && Hidden % Heads != 0)
            throw new ArgumentException($"hidden ({Hidden}) must split into {Heads} heads.");
        if (ExplicitHeadDim != null && ModelType is not ("qwen3" or "gemma2"))
            throw new ArgumentException("an explicit head_dim is written for qwen3 and gemma2 only.");
        if (ModelType == "mixtral" && (Experts <= 0 || ExpertsPerToken <= 0 || ExpertsPerToken > Experts))
            throw new ArgumentException($"mixtral needs experts ≥ experts per token ≥ 1, got {Experts} and {ExpertsPerToken}.");
        if (ModelType == "mamba" && (StateSize <= 0 || ConvKernel <= 0 || TimeStepRank <= 0))
            throw new ArgumentException("mamba needs a positive state size, conv kernel and time-step rank.");
        if (RotaryDim % 2 != 0 || RotaryPct is <= 0 or > 1)
            throw new ArgumentException($"the rotary part of each head ({RotaryDim} of {HeadDim} dims) must be even, with a fraction in (0, 1].");
        if (Heads % KvHeads != 0)
            throw new ArgumentException($"heads ({Heads}) must be a multiple of kv-heads ({KvHeads}).");
        if (ModelType is not ("llama" or "qwen3" or "gemma2" or "mixtral") && KvHeads != Heads)
            throw new ArgumentException($"{ModelType} has no grouped KV heads (kv-heads must equal heads).");
        if (ModelType != "gpt_neox" && (!ParallelResidual || RotaryPct != 1.0))
            throw new ArgumentException("the rotary fraction and sequential/parallel residual apply to gpt_neox only.");
        if (!ActivationNames.Contains(ActivationName))
            throw new ArgumentException($"activation must be one of {string.Join(", ", ActivationNames)}, got '{ActivationName}'.");
        if (ActivationName == "solu_ln" && ModelType != "gpt2")
            throw new ArgumentException("solu_ln (with its mlp.ln LayerNorm) is only written for gpt2.");
        return this;
    }

    /// <summary>A short name that changes whenever the written folder does (cache folder names).</summary>
    public string Id => ModelType switch
    {
        "llama" => $"llama-h{Hidden}-l{Layers}-a{Heads}-kv{KvHeads}-i{Intermediate}-v{Vocab}",
        "qwen3" => $"qwen3-h{Hidden}-l{Layers}-a{Heads}-kv{KvHeads}-hd{HeadDim}-i{Intermediate}-v{Vocab}",
        "gemma2" => $"gemma2-h{Hidden}-l{Layers}-a{Heads}-kv{KvHeads}-hd{HeadDim}-i{Intermediate}-v{Vocab}-w{SlidingWindow}",
        "mixtral" => $"mixtral-h{Hidden}-l{Layers}-a{Heads}-kv{KvHeads}-i{Intermediate}-e{Experts}k{ExpertsPerToken}-v{Vocab}",
        "mamba" => $"mamba-h{Hidden}-l{Layers}-i{Intermediate}-n{StateSize}-k{ConvKernel}-r{TimeStepRank}-v{Vocab}",
        "gpt2" => $"gpt2-h{Hidden}-l{Layers}-a{Heads}-i{Intermediate}-v{Vocab}-p{MaxPositions}",
        _ => $"gpt_neox-h{Hidden}-l{Layers}-a{Heads}-i{Intermediate}-v{Vocab}-r{RotaryDim}{(ParallelResidual ? "" : "-seq")}",
    } + (Activation is null || Activation == DefaultActivation ? "" : "-" + Activation);

    /// <summary>Every tensor the Hugging Face class stores (save_pretrained names, tied copies dropped), in file order.</summary>
    public IEnumerable<TensorSpec> Tensors() => ModelType switch
    {
        "gpt2" => Gpt2Tensors(),
        "gpt_neox" => NeoxTensors(),
        "mamba" => MambaTensors(),
        _ => LlamaTensors(),
    };

    private IEnumerable<TensorSpec> LlamaTensors()
    {
        long d = Hidden, q = (long)Heads * HeadDim, kv = (long)KvHeads * HeadDim, inter = Intermediate;
        var norm = ModelType == "gemma2" ? TensorRole.OffsetNorm : TensorRole.Norm;
        yield return new("model.embed_tokens.weight", [Vocab, d], TensorRole.Embedding);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            yield return new(p + "input_layernorm.weight", [d], norm);
            yield return new(p + "self_attn.q_proj.weight", [q, d], TensorRole.Matrix);
            yield return new(p + "self_attn.k_proj.weight", [kv, d], TensorRole.Matrix);
            yield return new(p + "self_attn.v_proj.weight", [kv, d], TensorRole.Matrix);
            yield return new(p + "self_attn.o_proj.weight", [d, q], TensorRole.Matrix);
            if (ModelType == "qwen3")
            {
                yield return new(p + "self_attn.q_norm.weight", [HeadDim], TensorRole.Norm);
                yield return new(p + "self_attn.k_norm.weight", [HeadDim], TensorRole.Norm);
            }
            yield return new(p + "post_attention_layernorm.weight", [d], norm);
            if (ModelType == "gemma2") yield return new(p + "pre_feedforward_layernorm.weight", [d], norm);
            if (ModelType == "mixtral")
            {
                yield return new(p + "block_sparse_moe.gate.weight", [Experts, d], TensorRole.Matrix);
                for (int e = 0; e < Experts; e++)
                {
                    string x = $"{p}block_sparse_moe.experts.{e}.";
                    yield return new(x + "w1.weight", [inter, d], TensorRole.ExpertMatrix);
                    yield return new(x + "w2.weight", [d, inter], TensorRole.ExpertMatrix);
                    yield return new(x + "w3.weight", [inter, d], TensorRole.ExpertMatrix);
                }
                continue;
            }
            yield return new(p + "mlp.gate_proj.weight", [inter, d], TensorRole.Matrix);
            yield return new(p + "mlp.up_proj.weight", [inter, d], TensorRole.Matrix);
            yield return new(p + "mlp.down_proj.weight", [d, inter], TensorRole.Matrix);
            if (ModelType == "gemma2") yield return new(p + "post_feedforward_layernorm.weight", [d], norm);
        }
        yield return new("model.norm.weight", [d], norm);
        if (!TiedHead) yield return new("lm_head.weight", [Vocab, d], TensorRole.Head);
    }

    /// <summary>GPT2LMHeadModel: Conv1D weights [in, out], c_attn columns q | k | v; lm_head is tied to wte and not stored.</summary>
    private IEnumerable<TensorSpec> Gpt2Tensors()
    {
        long d = Hidden, inter = Intermediate;
        yield return new("transformer.wte.weight", [Vocab, d], TensorRole.Embedding);
        yield return new("transformer.wpe.weight", [MaxPositions, d], TensorRole.Embedding);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"transformer.h.{l}.";
            foreach (var t in LayerNorm(p + "ln_1", d)) yield return t;
            foreach (var t in Conv1D(p + "attn.c_attn", d, 3 * d)) yield return t;
            foreach (var t in Conv1D(p + "attn.c_proj", d, d)) yield return t;
            foreach (var t in LayerNorm(p + "ln_2", d)) yield return t;
            foreach (var t in Conv1D(p + "mlp.c_fc", d, inter)) yield return t;
            if (ActivationName == "solu_ln")
                foreach (var t in LayerNorm(p + "mlp.ln", inter)) yield return t;
            foreach (var t in Conv1D(p + "mlp.c_proj", inter, d)) yield return t;
        }
        foreach (var t in LayerNorm("transformer.ln_f", d)) yield return t;
    }

    /// <summary>GPTNeoXForCausalLM: nn.Linear [out, in]; query_key_value rows interleaved per head ([head][q|k|v][head_dim]).</summary>
    private IEnumerable<TensorSpec> NeoxTensors()
    {
        long d = Hidden, inter = Intermediate;
        yield return new("gpt_neox.embed_in.weight", [Vocab, d], TensorRole.Embedding);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"gpt_neox.layers.{l}.";
            foreach (var t in LayerNorm(p + "input_layernorm", d)) yield return t;
            foreach (var t in LayerNorm(p + "post_attention_layernorm", d)) yield return t;
            foreach (var t in Linear(p + "attention.query_key_value", 3 * d, d)) yield return t;
            foreach (var t in Linear(p + "attention.dense", d, d)) yield return t;
            foreach (var t in Linear(p + "mlp.dense_h_to_4h", inter, d)) yield return t;
            foreach (var t in Linear(p + "mlp.dense_4h_to_h", d, inter)) yield return t;
        }
        foreach (var t in LayerNorm("gpt_neox.final_layer_norm", d)) yield return t;
        yield return new("embed_out.weight", [Vocab, d], TensorRole.Head);
    }

    /// <summary>MambaForCausalLM: backbone.layers.l.{norm, mixer.*}; conv1d.weight [channels, 1, kernel]; the head is tied.</summary>
    private IEnumerable<TensorSpec> MambaTensors()
    {
        long d = Hidden, channels = Intermediate, n = StateSize, rank = TimeStepRank;
        yield return new("backbone.embeddings.weight", [Vocab, d], TensorRole.Embedding);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"backbone.layers.{l}.";
            yield return new(p + "norm.weight", [d], TensorRole.Norm);
            yield return new(p + "mixer.A_log", [channels, n], TensorRole.Bias);
            yield return new(p + "mixer.D", [channels], TensorRole.Norm);
            yield return new(p + "mixer.conv1d.weight", [channels, 1, ConvKernel], TensorRole.Matrix);
            yield return new(p + "mixer.conv1d.bias", [channels], TensorRole.Bias);
            yield return new(p + "mixer.in_proj.weight", [2 * channels, d], TensorRole.Matrix);
            yield return new(p + "mixer.x_proj.weight", [rank + 2 * n, channels], TensorRole.Matrix);
            yield return new(p + "mixer.dt_proj.weight", [channels, rank], TensorRole.Matrix);
            yield return new(p + "mixer.dt_proj.bias", [channels], TensorRole.Bias);
            yield return new(p + "mixer.out_proj.weight", [d, channels], TensorRole.Matrix);
        }
        yield return new("backbone.norm_f.weight", [d], TensorRole.Norm);
    }

    private static TensorSpec[] LayerNorm(string prefix, long width) =>
        [new(prefix + ".weight", [width], TensorRole.Norm), new(prefix + ".bias", [width], TensorRole.Bias)];

    private static TensorSpec[] Conv1D(string prefix, long inFeatures, long outFeatures) =>
        [new(prefix + ".weight", [inFeatures, outFeatures], TensorRole.Matrix, Conv1D: true), new(prefix + ".bias", [outFeatures], TensorRole.Bias)];

    private static TensorSpec[] Linear(string prefix, long outFeatures, long inFeatures) =>
        [new(prefix + ".weight", [outFeatures, inFeatures], TensorRole.Matrix), new(prefix + ".bias", [outFeatures], TensorRole.Bias)];

    public long ParameterCount => Tensors().Sum(t => t.Elements);

    /// <summary>Weights of the linear layers of all blocks (what every token multiplies through).</summary>
    public long BlockMatrixParameters => Tensors().Where(t => t.Role == TensorRole.Matrix).Sum(t => t.Elements);

    /// <summary>The LM head's weights, tied (the embedding matrix, stored once) or not.</summary>
    public long HeadParameters => (long)Vocab * Hidden;

    /// <summary>
    /// Bytes of weights one decode step streams from memory: every block matrix (of experts, the chosen ones' share) plus
    /// the head, counted once even when it is tied to the embedding (embedding rows, norms and biases are negligible and left out).
    /// </summary>
    public long DecodeWeightBytes(DType dtype) => (BlockMatrixParameters + ChosenExpertParameters + HeadParameters) * dtype.SizeOf();

    /// <summary>The expert weights one token streams: its top-k experts' share of them all.</summary>
    public long ChosenExpertParameters => Experts == 0 ? 0 : Tensors().Where(t => t.Role == TensorRole.ExpertMatrix).Sum(t => t.Elements) * ExpertsPerToken / Experts;
}
