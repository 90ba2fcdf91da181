using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// BERT encoder: word + position + token-type embeddings with a LayerNorm, post-LN blocks, bidirectional
/// attention, exact GELU, pooler. Accepts bare and "bert."-prefixed names and legacy LayerNorm gamma/beta.
/// Slot 0 is the embedding after its LayerNorm; slot l+1 the output of layer l (no final norm, no LM head).
/// </summary>
public sealed class BertRecipe : IModelRecipe
{
    public IReadOnlyList<string> ModelTypes { get; } = ["bert"];
    public IReadOnlyList<string> NamePrefixes => ["", "bert."];
    /// <summary>BertForPreTraining / MaskedLM heads (masked-LM transform and decoder, next-sentence classifier).</summary>
    public IReadOnlyList<string> IgnorableTensors => ["cls.*"];

    public ArchitectureSpec Spec(ModelConfig c) => new()
    {
        Norm = NormKind.LayerNorm,
        Layout = BlockLayout.PostNorm,
        NormEps = (float)c.NormEps,
        Activation = c.Activation,
        GatedMlp = false,
        RotaryDim = 0,
        Causal = false,
    };

    public ModelWeights Bind(WeightBinder w, ModelConfig c)
    {
        int d = c.HiddenSize, inter = c.IntermediateSize;
        var blocks = new BlockWeights[c.NumLayers];
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"encoder.layer.{l}.";
            blocks[l] = new BlockWeights
            {
                AttentionNorm = w.LayerNorm(p + "attention.output.LayerNorm", d),
                Qkv = new Linear([w.Matrix(p + "attention.self.query.weight", d, d), w.Matrix(p + "attention.self.key.weight", d, d),
                        w.Matrix(p + "attention.self.value.weight", d, d)],
                    w.Concat((p + "attention.self.query.bias", d), (p + "attention.self.key.bias", d), (p + "attention.self.value.bias", d))),
                Output = w.Linear(p + "attention.output.dense", d, d),
                MlpNorm = w.LayerNorm(p + "output.LayerNorm", d),
                Up = w.Linear(p + "intermediate.dense", inter, d),
                Down = w.Linear(p + "output.dense", d, inter),
            };
        }
        return new ModelWeights
        {
            Embedding = w.Matrix("embeddings.word_embeddings.weight", c.VocabSize, d),
            PositionEmbedding = w.Matrix("embeddings.position_embeddings.weight", c.MaxPositions, d),
            TokenTypeEmbedding = w.Matrix("embeddings.token_type_embeddings.weight", c.TypeVocabSize, d),
            EmbeddingNorm = w.LayerNorm("embeddings.LayerNorm", d),
            Blocks = blocks,
            Pooler = w.Has("pooler.dense.weight") ? w.Linear("pooler.dense", d, d) : null,
        };
    }
}
