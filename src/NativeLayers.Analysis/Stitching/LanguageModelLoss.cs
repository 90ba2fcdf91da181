using NativeLayers.Analysis.Evaluation;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Stitching;

/// <summary>Accumulated next-token negative log-likelihood (nats) over sequences: the token-weighted mean is the loss.</summary>
public sealed class LanguageModelLoss
{
    public double TotalNats { get; private set; }
    public long Predictions { get; private set; }
    public double Mean => Predictions == 0 ? double.NaN : TotalNats / Predictions;

    /// <summary>
    /// Adds the losses of every sequence of a forward result computed with <see cref="LogitsMode.All"/>: position t
    /// predicts token t + 1, in float64 through log-softmax (§16.1's rule: never the log of a probability).
    /// </summary>
    public void Add(ForwardResult result, IReadOnlyList<int[]> tokens)
    {
        if (result.Mode != LogitsMode.All) throw new NativeLayersException("the loss needs logits for every token (LogitsMode.All).");
        for (int s = 0; s < tokens.Count; s++)
        {
            var seq = result.Residual.Sequences[s];
            for (int t = 0; t + 1 < tokens[s].Length; t++)
            {
                var logSoftmax = NextTokenDivergence.LogSoftmax(result.LogitsRow(seq.FirstRow + t));
                TotalNats -= logSoftmax[tokens[s][t + 1]];
                Predictions++;
            }
        }
    }

    /// <summary>The loss of a model on its own forward pass over <paramref name="sequences"/>.</summary>
    public static LanguageModelLoss Of(Transformer model, IReadOnlyList<int[]> sequences, int batchSize = 8)
    {
        var loss = new LanguageModelLoss();
        for (int start = 0; start < sequences.Count; start += batchSize)
        {
            var batch = sequences.Skip(start).Take(batchSize).ToArray();
            loss.Add(model.Forward(batch, LogitsMode.All), batch);
        }
        return loss;
    }
}
