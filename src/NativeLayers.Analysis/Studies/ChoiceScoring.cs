using System.Text;
using NativeLayers.Analysis.Evaluation;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Studies;

/// <summary>Multiple-choice scores of §16.2 and the next-token distribution statistics of §16.1 over a question set.</summary>
public sealed record ChoiceScores(double Accuracy, double AccuracyNorm, double AccuracyTok, double GoldProbability,
    double KlMean, double KlVariance, double EntropyBitsMean, double EntropyBitsVariance);

/// <summary>
/// Scores questions by log-likelihood (§16.2): each choice appended to its context, ℓ_j the sum of the choice tokens'
/// log-probabilities; acc = argmax ℓ_j, acc_norm = argmax ℓ_j / UTF-8 bytes, acc_tok = argmax ℓ_j / tokens (ties to
/// the lowest index), and the mean gold probability under a softmax over ℓ. The questions run in batches of forward
/// calls (steered or not); the logits at the context's last token give the next-token distribution compared
/// with the unsteered one (KL(base ‖ steered) in nats, entropy in bits, as (d) reports).
/// </summary>
public sealed class ChoiceScoring
{
    private readonly Transformer _model;
    private readonly IReadOnlyList<ChoiceItem> _items;
    private readonly int[][] _sequences;
    private readonly int[] _boundary;          // per sequence: tokens of the context
    private readonly int[] _firstSequence;     // per item: index of its first choice's sequence
    private double[][]? _baseNextToken;

    /// <summary>Questions whose context did not tokenise as a prefix of context + choice (the common prefix is used).</summary>
    public int BoundaryMismatches { get; }

    public ChoiceScoring(Transformer model, IReadOnlyList<ChoiceItem> items)
    {
        if (!model.HasTokenizer) throw new NativeLayersException($"{model.Folder.Directory} has no tokenizer to encode the questions.");
        if (!model.HasLanguageModelHead) throw new NativeLayersException($"{model.Folder.Directory} has no language-model head to score answers.");
        _model = model;
        _items = items;
        var sequences = new List<int[]>();
        var boundary = new List<int>();
        _firstSequence = new int[items.Count];
        for (int q = 0; q < items.Count; q++)
        {
            var context = model.Tokenizer.Encode(items[q].Context);
            _firstSequence[q] = sequences.Count;
            foreach (string choice in items[q].Choices)
            {
                var full = model.Tokenizer.Encode(items[q].Context + choice);
                int common = 0;
                while (common < context.Length && common < full.Length && context[common] == full[common]) common++;
                if (common != context.Length) BoundaryMismatches++;
                if (common == full.Length || common == 0)
                    throw new NativeLayersException($"question {q + 1}: the choice '{choice}' adds no tokens after the context.");
                sequences.Add(full);
                boundary.Add(common);
            }
        }
        _sequences = [.. sequences];
        _boundary = [.. boundary];
    }

    /// <summary>Questions per forward call: bounds the [tokens, vocab] logits held at once.</summary>
    public int QuestionsPerBatch { get; init; } = 8;

    public ChoiceScores Score(SteeringPlan? steering)
    {
        if (_baseNextToken is null && steering is not null) Score(null);
        var nextToken = new double[_items.Count][];
        int correct = 0, correctNorm = 0, correctTok = 0;
        double goldProbability = 0;
        for (int start = 0; start < _items.Count; start += QuestionsPerBatch)
        {
            int end = Math.Min(_items.Count, start + QuestionsPerBatch);
            int firstSequence = _firstSequence[start], lastSequence = end < _items.Count ? _firstSequence[end] : _sequences.Length;
            var batch = _sequences[firstSequence..lastSequence];
            var result = _model.Forward(batch, new ForwardOptions { Logits = LogitsMode.All, Steering = steering });
            for (int q = start; q < end; q++)
            {
                var item = _items[q];
                var ll = new double[item.Choices.Count];
                for (int c = 0; c < ll.Length; c++)
                {
                    int s = _firstSequence[q] + c;
                    var seq = result.Residual.Sequences[s - firstSequence];
                    for (int t = _boundary[s]; t < _sequences[s].Length; t++)
                        ll[c] += NextTokenDivergence.LogSoftmax(result.LogitsRow(seq.FirstRow + t - 1))[_sequences[s][t]];
                }
                correct += ArgMax(ll, c => 1) == item.Gold ? 1 : 0;
                correctNorm += ArgMax(ll, c => Encoding.UTF8.GetByteCount(item.Choices[c])) == item.Gold ? 1 : 0;
                correctTok += ArgMax(ll, c => _sequences[_firstSequence[q] + c].Length - _boundary[_firstSequence[q] + c]) == item.Gold ? 1 : 0;
                goldProbability += NextTokenDivergence.Softmax(ll)[item.Gold];
                var first = result.Residual.Sequences[_firstSequence[q] - firstSequence];
                nextToken[q] = NextTokenDivergence.LogSoftmax(result.LogitsRow(first.FirstRow + _boundary[_firstSequence[q]] - 1));
            }
        }
        if (steering is null) _baseNextToken = nextToken;
        var kl = new List<double>();
        var entropy = new List<double>();
        for (int q = 0; q < _items.Count; q++)
        {
            kl.Add(NextTokenDivergence.KlDivergence(_baseNextToken![q], nextToken[q]));
            entropy.Add(NextTokenDivergence.EntropyBits(nextToken[q]));
        }
        var k = SummaryStatistics.Of(kl);
        var h = SummaryStatistics.Of(entropy);
        int n = _items.Count;
        return new ChoiceScores((double)correct / n, (double)correctNorm / n, (double)correctTok / n, goldProbability / n, k.Mean, k.Variance, h.Mean, h.Variance);
    }

    private static int ArgMax(double[] ll, Func<int, int> divisor)
    {
        int best = 0;
        for (int c = 1; c < ll.Length; c++)
            if (ll[c] / divisor(c) > ll[best] / divisor(best)) best = c;
        return best;
    }
}
