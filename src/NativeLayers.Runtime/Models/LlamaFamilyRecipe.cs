using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// Llama and its close relatives: RMSNorm blocks, rotate_half RoPE, gated MLP, grouped KV heads.
/// Mistral adds a sliding window, Qwen2 q/k/v biases, Gemma scaled embeddings and (1 + w) norms,
/// Phi-3 fused qkv_proj and gate_up_proj tensors, Qwen3 per-head q/k norms; Gemma 2/3 norms around both sub-layers
/// ("sandwich"), soft-capping, query_pre_attn_scalar and local/global layers (Gemma 3: per-head q/k norms and two
/// RoPE bases); OLMo 2 norms on the sub-layer outputs only and q/k norms over the whole projection.
/// </summary>
public sealed class LlamaFamilyRecipe : IModelRecipe
{
    public IReadOnlyList<string> ModelTypes { get; } = ["llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "olmo2"];

    private static bool IsGemma(ModelConfig c) => c.ModelType is "gemma" or "gemma2" or "gemma3_text";
    private static bool HasSandwichNorms(ModelConfig c) => c.ModelType is "gemma2" or "gemma3_text";

    public ArchitectureSpec Spec(ModelConfig c) => new()
    {
        Norm = NormKind.RmsNorm,
        NormEps = (float)c.NormEps,
        EmbeddingScale = IsGemma(c) ? (float)Math.Sqrt(c.HiddenSize) : 1f,
        Activation = c.Activation,
        GatedMlp = true,
        RotaryDim = c.RotaryDim,
        RopeTheta = c.RopeTheta,
        RopeScaling = c.RopeScaling,
        SlidingWindow = HasSandwichNorms(c) ? null : c.SlidingWindow,
        QkNorm = c.ModelType switch { "qwen3" or "gemma3_text" => QkNorm.PerHead, "olmo2" => QkNorm.WholeProjection, _ => QkNorm.None },
        AttentionScale = c.QueryPreAttnScalar is { } scalar ? (float)(1 / Math.Sqrt(scalar)) : null,
        AttentionSoftCap = (float)(c.AttentionSoftCap ?? 0),
        FinalLogitSoftCap = (float)(c.FinalLogitSoftCap ?? 0),
        PerLayer = HasSandwichNorms(c) ? LocalAndGlobalLayers(c) : null,
    };

    /// <summary>
    /// Gemma 2: even layers local; Gemma 3: every sliding_window_pattern-th layer global. A local layer's query sees its
    /// last W positions (i − W &lt; j ≤ i), one fewer than the HF 4.40 Mistral rule the window field counts in.
    /// </summary>
    private static LayerAttention[] LocalAndGlobalLayers(ModelConfig c) => Enumerable.Range(0, c.NumLayers).Select(l =>
    {
        bool local = c.SlidingWindow is not null && (c.SlidingWindowPattern is { } n ? (l + 1) % n != 0 : l % 2 == 0);
        return local ? new LayerAttention(c.SlidingWindow - 1, c.RopeLocalTheta ?? c.RopeTheta) : new LayerAttention(null, c.RopeTheta);
    }).ToArray();

    public ModelWeights Bind(WeightBinder w, ModelConfig c)
    {
        float normOffset = IsGemma(c) ? 1f : 0f;
        NormWeights Norm(string name, int width) => new(w.Vector(name, width, normOffset), null);
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
            ExpertWeights? experts = c.Experts > 0 ? Experts(w, c, p + "block_sparse_moe.") : null;
            Linear? up = experts != null ? null : c.ModelType == "phi3"
                ? new Linear([w.Matrix(p + "mlp.gate_up_proj.weight", 2 * inter, d)], null)
                : new Linear([w.Matrix(p + "mlp.gate_proj.weight", inter, d), w.Matrix(p + "mlp.up_proj.weight", inter, d)], null);
            bool sandwich = HasSandwichNorms(c), olmo = c.ModelType == "olmo2";
            var (qNorm, kNorm) = c.ModelType switch
            {
                "qwen3" or "gemma3_text" => (Norm(p + "self_attn.q_norm.weight", c.HeadDim), Norm(p + "self_attn.k_norm.weight", c.HeadDim)),
                "olmo2" => (Norm(p + "self_attn.q_norm.weight", q), Norm(p + "self_attn.k_norm.weight", kv)),
                _ => ((NormWeights?)null, (NormWeights?)null),
            };
            blocks[l] = new BlockWeights
            {
                // HF's post_attention_layernorm is the pre-MLP norm in Llama but the attention OUTPUT norm in Gemma 2/3 and OLMo 2.
                AttentionNorm = olmo ? null : Norm(p + "input_layernorm.weight", d),
                Qkv = qkv,
                Output = new Linear([w.Matrix(p + "self_attn.o_proj.weight", d, q)], null),
                AttentionOutputNorm = sandwich || olmo ? Norm(p + "post_attention_layernorm.weight", d) : null,
                QNorm = qNorm,
                KNorm = kNorm,
                MlpNorm = olmo ? null : Norm(p + (sandwich ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), d),
                Up = up,
                Down = experts != null ? null : new Linear([w.Matrix(p + "mlp.down_proj.weight", d, inter)], null),
                Experts = experts,
                MlpOutputNorm = sandwich || olmo ? Norm(p + "post_feedforward_layernorm.weight", d) : null,
            };
        }
        var embedding = w.Matrix("model.embed_tokens.weight", c.VocabSize, d);
        return new ModelWeights
        {
            Embedding = embedding,
            Blocks = blocks,
            FinalNorm = Norm("model.norm.weight", d),
            Head = new Linear([c.TieWordEmbeddings ? embedding : w.Matrix("lm_head.weight", c.VocabSize, d)], null),
        };
    }

    /// <summary>Mixtral's block_sparse_moe: gate (the router) and experts.e.{w1 (gate), w3 (up), w2 (down)}.</summary>
    private static ExpertWeights Experts(WeightBinder w, ModelConfig c, string p)
    {
        int d = c.HiddenSize, inter = c.IntermediateSize;
        var up = new Linear[c.Experts];
        var down = new Linear[c.Experts];
        for (int e = 0; e < c.Experts; e++)
        {
            up[e] = new Linear([w.Matrix($"{p}experts.{e}.w1.weight", inter, d), w.Matrix($"{p}experts.{e}.w3.weight", inter, d)], null);
            down[e] = new Linear([w.Matrix($"{p}experts.{e}.w2.weight", d, inter)], null);
        }
        return new ExpertWeights(new Linear([w.Matrix(p + "gate.weight", c.Experts, d)], null), up, down, c.ExpertsPerToken);
    }
}
