using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// Llama and its close relatives: pre-RMSNorm blocks, rotate_half RoPE, gated MLP, grouped KV heads.
/// Mistral adds a sliding window, Qwen2 q/k/v biases, Gemma scaled embeddings and (1 + w) norms,
/// Phi-3 fused qkv_proj and gate_up_proj tensors.
/// </summary>
public sealed class LlamaFamilyRecipe : IModelRecipe
{
    public IReadOnlyList<string> ModelTypes { get; } = ["llama", "mistral", "qwen2", "gemma", "phi3"];

    public ArchitectureSpec Spec(ModelConfig c) => new()
    {
        Norm = NormKind.RmsNorm,
        NormEps = (float)c.NormEps,
        EmbeddingScale = c.ModelType == "gemma" ? (float)Math.Sqrt(c.HiddenSize) : 1f,
        Activation = c.Activation,
        GatedMlp = true,
        RotaryDim = c.RotaryDim,
        RopeTheta = c.RopeTheta,
        RopeScaling = c.RopeScaling,
        SlidingWindow = c.SlidingWindow,
    };

    public ModelWeights Bind(WeightBinder w, ModelConfig c)
    {
        float normOffset = c.ModelType == "gemma" ? 1f : 0f;
        int d = c.HiddenSize, q = c.NumHeads * c.HeadDim, kv = c.NumKvHeads * c.HeadDim, inter = c.IntermediateSize;
        var blocks = new BlockWeights[c.NumLayers];
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"model.layers.{l}.";
            Linear qkv = c.ModelType == "phi3"
                ? new Linear([w.Matrix(p + "self_attn.qkv_proj.weight", q + 2 * kv, d)], null)
                : new Linear([w.Matrix(p + "self_attn.q_proj.weight", q, d), w.Matrix(p + "self_attn.k_proj.weight", kv, d),
                        w.Matrix(p + "self_attn.v_proj.weight", kv, d)],
                    c.AttentionBias ? w.Concat((p + "self_attn.q_proj.bias", q), (p + "self_attn.k_proj.bias", kv), (p + "self_attn.v_proj.bias", kv)) : null);
            Linear up = c.ModelType == "phi3"
                ? new Linear([w.Matrix(p + "mlp.gate_up_proj.weight", 2 * inter, d)], null)
                : new Linear([w.Matrix(p + "mlp.gate_proj.weight", inter, d), w.Matrix(p + "mlp.up_proj.weight", inter, d)], null);
            blocks[l] = new BlockWeights
            {
                AttentionNorm = new NormWeights(w.Vector(p + "input_layernorm.weight", d, normOffset), null),
                Qkv = qkv,
                Output = new Linear([w.Matrix(p + "self_attn.o_proj.weight", d, q)], null),
                MlpNorm = new NormWeights(w.Vector(p + "post_attention_layernorm.weight", d, normOffset), null),
                Up = up,
                Down = new Linear([w.Matrix(p + "mlp.down_proj.weight", d, inter)], null),
            };
        }
        var embedding = w.Matrix("model.embed_tokens.weight", c.VocabSize, d);
        return new ModelWeights
        {
            Embedding = embedding,
            Blocks = blocks,
            FinalNorm = new NormWeights(w.Vector("model.norm.weight", d, normOffset), null),
            Head = new Linear([c.TieWordEmbeddings ? embedding : w.Matrix("lm_head.weight", c.VocabSize, d)], null),
        };
    }
}
