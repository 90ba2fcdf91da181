using NativeLayers.Loading;

namespace NativeLayers.ModelGen;

/// <summary>One weight tensor of a Llama model folder: its name, shape and the fan-in that sets its init scale.</summary>
public sealed record TensorSpec(string Name, long[] Shape, TensorRole Role)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
}

public enum TensorRole { Embedding, Matrix, Norm }

/// <summary>The shape of a Llama-architecture model (model_type llama, untied lm_head, SiLU gated MLP).</summary>
public sealed record ModelSpec
{
    public required int Hidden { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int Intermediate { get; init; }
    public required int Vocab { get; init; }
    public int MaxPositions { get; init; } = 2048;
    public double RopeTheta { get; init; } = 10000;
    public double NormEps { get; init; } = 1e-5;

    public int HeadDim => Hidden / Heads;

    public static IReadOnlyList<string> PresetNames { get; } = ["tiny", "llama-768", "llama-1b"];

    public static ModelSpec Preset(string name) => name switch
    {
        "tiny" => new() { Hidden = 64, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 128, Vocab = 256, MaxPositions = 512 },
        "llama-768" => new() { Hidden = 768, Layers = 12, Heads = 12, KvHeads = 12, Intermediate = 2048, Vocab = 32000 },
        // TinyLlama-1.1B's shape: grouped KV heads, untied head, ~2.2 GB in bf16.
        "llama-1b" => new() { Hidden = 2048, Layers = 22, Heads = 32, KvHeads = 4, Intermediate = 5632, Vocab = 32000 },
        _ => throw new ArgumentException($"unknown preset '{name}' (known: {string.Join(", ", PresetNames)})."),
    };

    /// <summary>Throws when the shape cannot be a valid llama config.</summary>
    public ModelSpec Validate()
    {
        if (Hidden <= 0 || Layers <= 0 || Heads <= 0 || KvHeads <= 0 || Intermediate <= 0 || Vocab <= 0 || MaxPositions <= 0)
            throw new ArgumentException("every dimension must be positive.");
        if (Hidden % Heads != 0 || HeadDim % 2 != 0)
            throw new ArgumentException($"hidden ({Hidden}) must split into {Heads} heads of even size.");
        if (Heads % KvHeads != 0)
            throw new ArgumentException($"heads ({Heads}) must be a multiple of kv-heads ({KvHeads}).");
        return this;
    }

    /// <summary>A short name that changes whenever the shape does (cache folder names).</summary>
    public string Id => $"llama-h{Hidden}-l{Layers}-a{Heads}-kv{KvHeads}-i{Intermediate}-v{Vocab}";

    /// <summary>Every tensor LlamaFamilyRecipe binds for model_type llama, in file order.</summary>
    public IEnumerable<TensorSpec> Tensors()
    {
        long d = Hidden, q = (long)Heads * HeadDim, kv = (long)KvHeads * HeadDim, inter = Intermediate;
        yield return new("model.embed_tokens.weight", [Vocab, d], TensorRole.Embedding);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            yield return new(p + "input_layernorm.weight", [d], TensorRole.Norm);
            yield return new(p + "self_attn.q_proj.weight", [q, d], TensorRole.Matrix);
            yield return new(p + "self_attn.k_proj.weight", [kv, d], TensorRole.Matrix);
            yield return new(p + "self_attn.v_proj.weight", [kv, d], TensorRole.Matrix);
            yield return new(p + "self_attn.o_proj.weight", [d, q], TensorRole.Matrix);
            yield return new(p + "post_attention_layernorm.weight", [d], TensorRole.Norm);
            yield return new(p + "mlp.gate_proj.weight", [inter, d], TensorRole.Matrix);
            yield return new(p + "mlp.up_proj.weight", [inter, d], TensorRole.Matrix);
            yield return new(p + "mlp.down_proj.weight", [d, inter], TensorRole.Matrix);
        }
        yield return new("model.norm.weight", [d], TensorRole.Norm);
        yield return new("lm_head.weight", [Vocab, d], TensorRole.Matrix);
    }

    public long ParameterCount => Tensors().Sum(t => t.Elements);

    /// <summary>Weights of the linear layers of all blocks (what every token multiplies through).</summary>
    public long BlockMatrixParameters => Tensors().Where(t => t.Role == TensorRole.Matrix && t.Name != "lm_head.weight").Sum(t => t.Elements);

    public long HeadParameters => (long)Vocab * Hidden;

    /// <summary>Bytes of weights one decode step streams from memory: every matrix including lm_head (embedding rows are negligible).</summary>
    public long DecodeWeightBytes(DType dtype) => (BlockMatrixParameters + HeadParameters) * dtype.SizeOf();
}
