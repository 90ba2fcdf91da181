using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// GPT-NeoX / Pythia: LayerNorm with bias, partial rotary (rotary_pct), parallel residual (or sequential when
/// use_parallel_residual is false), exact GELU, untied embed_out. The fused query_key_value is interleaved per
/// head ([head][q|k|v][head_dim]); its rows are regrouped once at load into q | k | v blocks.
/// </summary>
public sealed class GptNeoxRecipe : IModelRecipe
{
    public IReadOnlyList<string> ModelTypes { get; } = ["gpt_neox"];

    public ArchitectureSpec Spec(ModelConfig c) => new()
    {
        Norm = NormKind.LayerNorm,
        Layout = c.ParallelResidual ? BlockLayout.Parallel : BlockLayout.PreNorm,
        NormEps = (float)c.NormEps,
        Activation = c.Activation,
        GatedMlp = false,
        RotaryDim = c.RotaryDim,
        RopeTheta = c.RopeTheta,
        RopeScaling = c.RopeScaling,
    };

    public ModelWeights Bind(WeightBinder w, ModelConfig c)
    {
        int d = c.HiddenSize, inter = c.IntermediateSize, hd = c.HeadDim, heads = c.NumHeads;
        // Row r of the q | k | v layout: part = r / d (0 q, 1 k, 2 v), head = (r % d) / hd, i = r % hd.
        int SourceRow(int r) => (r % d / hd) * 3 * hd + r / d * hd + r % hd;
        var blocks = new BlockWeights[c.NumLayers];
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"gpt_neox.layers.{l}.";
            PinnedBuffer? qkvBias = null;
            if (c.AttentionBias)
            {
                var stored = w.Floats(p + "attention.query_key_value.bias", 3 * d);
                qkvBias = new PinnedBuffer(Enumerable.Range(0, 3 * d).Select(r => stored[SourceRow(r)]).ToArray());
            }
            blocks[l] = new BlockWeights
            {
                AttentionNorm = w.LayerNorm(p + "input_layernorm", d),
                Qkv = new Linear([w.PermutedRows(p + "attention.query_key_value.weight", 3 * d, d, SourceRow)], qkvBias),
                Output = w.Linear(p + "attention.dense", d, d, c.AttentionBias),
                MlpNorm = w.LayerNorm(p + "post_attention_layernorm", d),
                Up = w.Linear(p + "mlp.dense_h_to_4h", inter, d),
                Down = w.Linear(p + "mlp.dense_4h_to_h", d, inter),
            };
        }
        var embedding = w.Matrix("gpt_neox.embed_in.weight", c.VocabSize, d);
        return new ModelWeights
        {
            Embedding = embedding,
            Blocks = blocks,
            FinalNorm = w.LayerNorm("gpt_neox.final_layer_norm", d),
            Head = new Linear([c.TieWordEmbeddings ? embedding : w.Matrix("embed_out.weight", c.VocabSize, d)], null),
        };
    }
}
