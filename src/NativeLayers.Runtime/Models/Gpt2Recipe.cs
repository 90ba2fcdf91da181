using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// GPT-2: learned positions, pre-LayerNorm blocks, Conv1D weights stored [in, out] (transposed once at load),
/// fused c_attn (q | k | v blocks), gelu_new, tied head. Accepts "transformer."-prefixed and bare names.
/// </summary>
public sealed class Gpt2Recipe : IModelRecipe
{
    public IReadOnlyList<string> ModelTypes { get; } = ["gpt2"];
    public IReadOnlyList<string> NamePrefixes => ["transformer.", ""];

    public ArchitectureSpec Spec(ModelConfig c) => new()
    {
        Norm = NormKind.LayerNorm,
        NormEps = (float)c.NormEps,
        Activation = c.Activation,
        GatedMlp = false,
        RotaryDim = 0,
    };

    public ModelWeights Bind(WeightBinder w, ModelConfig c)
    {
        int d = c.HiddenSize, inter = c.IntermediateSize;
        var blocks = new BlockWeights[c.NumLayers];
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"h.{l}.";
            blocks[l] = new BlockWeights
            {
                AttentionNorm = w.LayerNorm(p + "ln_1", d),
                Qkv = Conv1D(w, p + "attn.c_attn", d, 3 * d),
                Output = Conv1D(w, p + "attn.c_proj", d, d),
                MlpNorm = w.LayerNorm(p + "ln_2", d),
                Up = Conv1D(w, p + "mlp.c_fc", d, inter),
                Down = Conv1D(w, p + "mlp.c_proj", inter, d),
                MlpInnerNorm = c.Activation == Activation.SoluLn ? w.LayerNorm(p + "mlp.ln", inter) : null,
            };
        }
        var embedding = w.Matrix("wte.weight", c.VocabSize, d);
        return new ModelWeights
        {
            Embedding = embedding,
            PositionEmbedding = w.Matrix("wpe.weight", c.MaxPositions, d),
            Blocks = blocks,
            FinalNorm = w.LayerNorm("ln_f", d),
            Head = new Linear([c.TieWordEmbeddings ? embedding : w.Matrix("lm_head.weight", c.VocabSize, d)], null),
        };
    }

    private static Linear Conv1D(WeightBinder w, string prefix, int inFeatures, int outFeatures) =>
        new([w.TransposedMatrix(prefix + ".weight", inFeatures, outFeatures)], w.Vector(prefix + ".bias", outFeatures));
}
