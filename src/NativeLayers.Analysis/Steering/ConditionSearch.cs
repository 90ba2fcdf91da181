using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Steering;

/// <summary>How a condition (layer, comparison, threshold) sorts labelled prompts: the confusion matrix against "should hold".</summary>
public sealed record ConditionConfusion(int Layer, ConditionComparison Compare, double Threshold, int TruePositives, int FalsePositives, int TrueNegatives, int FalseNegatives)
{
    public int Total => TruePositives + FalsePositives + TrueNegatives + FalseNegatives;
    public double Accuracy => (double)(TruePositives + TrueNegatives) / Total;
    public double F1 => TruePositives == 0 ? 0 : 2.0 * TruePositives / (2.0 * TruePositives + FalsePositives + FalseNegatives);
}

/// <summary>Each layer's best condition and the prompts' similarities there; <see cref="Best"/> over all layers.</summary>
public sealed record ConditionSearchResult(IReadOnlyList<ConditionConfusion> PerLayer, ConditionConfusion Best, IReadOnlyDictionary<int, double[]> Similarities);

/// <summary>
/// The grid search of CAST: for every layer of a condition-vector file, the similarity of each held-out prompt, then
/// every threshold between two observed similarities in both comparison directions; the best by F1 (then accuracy).
/// </summary>
public static class ConditionSearch
{
    public static ConditionSearchResult Run(Transformer model, SteeringVectorSet vectors, IReadOnlyList<int[]> prompts, IReadOnlyList<bool> shouldHold,
        IReadOnlyList<int> layers, ConditionReduction reduction = ConditionReduction.Mean)
    {
        if (prompts.Count != shouldHold.Count) throw new ArgumentException("one label per prompt.");
        if (!shouldHold.Contains(true) || !shouldHold.Contains(false))
            throw new NativeLayersException("the labelled prompts need both kinds: some where the condition should hold and some where it should not.");
        var similarities = new Dictionary<int, double[]>();
        foreach (int layer in layers)
        {
            if (!vectors.TryGet(layer, out var vector))
                throw new NativeLayersException($"the condition vectors have no vector for layer {layer} (it has layers {string.Join(", ", vectors.Layers)}).");
            similarities[layer] = new SteeringCondition(vector.ToArray(), layer, 0, Reduction: reduction).Similarities(model, prompts);
        }
        var perLayer = layers.Select(l => BestThreshold(l, similarities[l], shouldHold)).ToList();
        var best = perLayer.OrderByDescending(c => c.F1).ThenByDescending(c => c.Accuracy).First();
        return new ConditionSearchResult(perLayer, best, similarities);
    }

    private static ConditionConfusion BestThreshold(int layer, double[] similarity, IReadOnlyList<bool> shouldHold)
    {
        var sorted = similarity.Distinct().Order().ToArray();
        var thresholds = new List<double> { sorted[0] - 1e-6 };
        for (int i = 0; i + 1 < sorted.Length; i++) thresholds.Add((sorted[i] + sorted[i + 1]) / 2);
        thresholds.Add(sorted[^1] + 1e-6);
        ConditionConfusion? best = null;
        foreach (var compare in new[] { ConditionComparison.Greater, ConditionComparison.Less })
            foreach (double threshold in thresholds)
            {
                var condition = new SteeringCondition([], layer, threshold, compare);
                int tp = 0, fp = 0, tn = 0, fn = 0;
                for (int i = 0; i < similarity.Length; i++)
                    switch (condition.Holds(similarity[i]), shouldHold[i])
                    {
                        case (true, true): tp++; break;
                        case (true, false): fp++; break;
                        case (false, false): tn++; break;
                        default: fn++; break;
                    }
                var confusion = new ConditionConfusion(layer, compare, threshold, tp, fp, tn, fn);
                if (best == null || (confusion.F1, confusion.Accuracy).CompareTo((best.F1, best.Accuracy)) > 0) best = confusion;
            }
        return best!;
    }
}
