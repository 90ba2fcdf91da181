using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// Mamba (1): RMSNorm then a selective state-space mixer in every block, tied embeddings, no positions. The conv taps
/// and A = −exp(A_log) are stored transposed, channel-minor, the layout the state-space ops stream over.
/// </summary>
public sealed class MambaRecipe : IModelRecipe
{
    public IReadOnlyList<string> ModelTypes { get; } = ["mamba"];

    public IReadOnlyList<string> NamePrefixes => ["backbone.", ""];

    public ArchitectureSpec Spec(ModelConfig c) => new()
    {
        Norm = NormKind.RmsNorm,
        NormEps = (float)c.NormEps,
        Activation = c.Activation,
        GatedMlp = false,
        RotaryDim = 0,
        Layout = BlockLayout.StateSpace,
    };

    public ModelWeights Bind(WeightBinder w, ModelConfig c)
    {
        var ssm = c.StateSpace ?? throw new ModelFileException(c.SourcePath, "a mamba config needs its state-space settings.");
        int d = c.HiddenSize, channels = c.IntermediateSize, n = ssm.StateSize, rank = ssm.TimeStepRank, k = ssm.ConvKernel;
        var blocks = new BlockWeights[c.NumLayers];
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"layers.{l}.mixer.";
            var scan = new StateSpaceWeights(
                ConvTaps: new PinnedBuffer(Transpose(w.FloatTensor(p + "conv1d.weight", channels, 1, k), channels, k)),
                ConvBias: ssm.ConvBias ? w.Vector(p + "conv1d.bias", channels) : null,
                Kernel: k,
                A: new PinnedBuffer(Transpose(w.FloatTensor(p + "A_log", channels, n), channels, n, v => -MathF.Exp(v))),
                D: w.Vector(p + "D", channels),
                StateSize: n);
            blocks[l] = new BlockWeights
            {
                AttentionNorm = new NormWeights(w.Vector($"layers.{l}.norm.weight", d), null),
                Qkv = null,
                Output = null,
                MlpNorm = null,
                Up = null,
                Down = null,
                Mixer = new StateSpaceMixerWeights(
                    w.Linear(p + "in_proj", 2 * channels, d, ssm.ProjectionBias),
                    w.Linear(p + "x_proj", rank + 2 * n, channels, bias: false),
                    w.Linear(p + "dt_proj", channels, rank),
                    w.Linear(p + "out_proj", d, channels, ssm.ProjectionBias),
                    scan),
            };
        }
        var embedding = w.Matrix("embeddings.weight", c.VocabSize, d);
        return new ModelWeights
        {
            Embedding = embedding,
            Blocks = blocks,
            FinalNorm = new NormWeights(w.Vector("norm_f.weight", d), null),
            Head = new Linear([c.TieWordEmbeddings ? embedding : w.Matrix("lm_head.weight", c.VocabSize, d)], null),
        };
    }

    /// <summary>[rows, cols] → [cols, rows], mapping each value on the way.</summary>
    private static float[] Transpose(float[] values, int rows, int cols, Func<float, float>? map = null)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < cols; col++)
                result[(long)col * rows + r] = map == null ? values[(long)r * cols + col] : map(values[(long)r * cols + col]);
        return result;
    }
}
