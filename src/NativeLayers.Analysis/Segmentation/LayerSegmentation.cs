using NativeLayers.Analysis.Probes;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Segmentation;

/// <summary>Parameters of the §15 rule.</summary>
public sealed record SegmentationOptions
{
    /// <summary>θ_s: both curves must stay at or above this in the shared prefix.</summary>
    public double SharedThreshold { get; init; } = 0.9;
    /// <summary>ε: the gap must stay at or below this in the shared prefix.</summary>
    public double SharedGap { get; init; } = 0.05;
    /// <summary>ρ: the transition ends at the first layer after s with gap ≥ ρ·max gap.</summary>
    public double TransitionFraction { get; init; } = 0.9;
}

/// <summary>
/// The three segments (1-based layers, inclusive; an empty segment has Last &lt; First): shared 1..s,
/// transition s+1..t, refinement t+1..L. Also the curves and the gap.
/// </summary>
public sealed record LayerSegments(int Layers, int SharedEnd, int TransitionEnd, double[] A, double[] B, double[] Gap)
{
    public (int First, int Last) Shared => (1, SharedEnd);
    public (int First, int Last) Transition => (SharedEnd + 1, TransitionEnd);
    public (int First, int Last) Refinement => (TransitionEnd + 1, Layers);
}

/// <summary>How stable the boundaries are when tasks are resampled.</summary>
public sealed record SegmentationBootstrap(int Resamples, ulong Seed, IReadOnlyDictionary<int, int> SharedEndCounts,
    IReadOnlyDictionary<int, int> TransitionEndCounts, double SharedEndMoved, double TransitionEndMoved);

/// <summary>The per-task report: mean-curve segmentation, the per-task curves and the bootstrap over tasks.</summary>
public sealed record TaskSegmentation(LayerSegments Segments, double[,] APerTask, double[,] BPerTask, SegmentationBootstrap Bootstrap);

/// <summary>
/// Layer-role segmentation (§15, after Zhao/Ziser/Cohen 2024): with a_l = mean_t CKA(IT_l, C_{t,l}) and
/// b_l = mean_t CKA(PT_l, C_{t,l}) for layers l = 1..L, gap g = a − b;
/// shared = the longest prefix with min(a_l, b_l) ≥ θ_s and g_l ≤ ε (last layer s);
/// transition = s+1..t, t the first layer after s with g_l ≥ ρ·max g (L when none);
/// refinement = t+1..L.
/// </summary>
public static class LayerSegmentation
{
    /// <summary>Comparisons allow this much round-off, so curves typed to two decimals (0.83 − 0.60) segment as written.</summary>
    public const double Slack = 1e-12;

    public static LayerSegments Segment(IReadOnlyList<double> a, IReadOnlyList<double> b, SegmentationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        options ??= new SegmentationOptions();
        if (a.Count != b.Count || a.Count == 0) throw new NativeLayersException($"the curves need one value per layer each, got {a.Count} and {b.Count}.");
        if (a.Concat(b).Any(v => !double.IsFinite(v))) throw new NativeLayersException("the similarity curves contain NaN or infinity.");
        int layers = a.Count;
        var gap = new double[layers];
        for (int l = 0; l < layers; l++) gap[l] = a[l] - b[l];
        int s = 0;
        while (s < layers && Math.Min(a[s], b[s]) >= options.SharedThreshold - Slack && gap[s] <= options.SharedGap + Slack) s++;
        double threshold = options.TransitionFraction * gap.Max();
        int t = layers;
        for (int l = s; l < layers; l++)
            if (gap[l] >= threshold - Slack) { t = l + 1; break; }
        return new LayerSegments(layers, s, t, [.. a], [.. b], gap);
    }

    /// <summary>
    /// Segments the task-averaged curves (rows = tasks, columns = layers 1..L) and bootstraps over tasks:
    /// <paramref name="resamples"/> times, draw as many tasks with replacement (SplitMix64 seeded by
    /// <paramref name="seed"/>), segment their mean curves, and count where each boundary lands.
    /// </summary>
    public static TaskSegmentation SegmentTasks(double[,] aPerTask, double[,] bPerTask, SegmentationOptions? options = null,
        int resamples = 1000, ulong seed = 1)
    {
        ArgumentNullException.ThrowIfNull(aPerTask);
        ArgumentNullException.ThrowIfNull(bPerTask);
        int tasks = aPerTask.GetLength(0), layers = aPerTask.GetLength(1);
        if (tasks == 0 || layers == 0 || bPerTask.GetLength(0) != tasks || bPerTask.GetLength(1) != layers)
            throw new NativeLayersException("the per-task curves must be non-empty tasks × layers arrays of the same shape.");
        if (resamples < 0) throw new NativeLayersException("the number of bootstrap resamples must be ≥ 0.");
        var all = Enumerable.Range(0, tasks).ToArray();
        var point = Segment(Mean(aPerTask, all), Mean(bPerTask, all), options);
        var rng = new ProbeSplit.SplitMix64(seed);
        var sharedCounts = new SortedDictionary<int, int>();
        var transitionCounts = new SortedDictionary<int, int>();
        int sharedMoved = 0, transitionMoved = 0;
        var pick = new int[tasks];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < tasks; i++) pick[i] = (int)(rng.Next() % (ulong)tasks);
            var seg = Segment(Mean(aPerTask, pick), Mean(bPerTask, pick), options);
            sharedCounts[seg.SharedEnd] = sharedCounts.GetValueOrDefault(seg.SharedEnd) + 1;
            transitionCounts[seg.TransitionEnd] = transitionCounts.GetValueOrDefault(seg.TransitionEnd) + 1;
            if (seg.SharedEnd != point.SharedEnd) sharedMoved++;
            if (seg.TransitionEnd != point.TransitionEnd) transitionMoved++;
        }
        var boot = new SegmentationBootstrap(resamples, seed, sharedCounts, transitionCounts,
            resamples == 0 ? 0 : (double)sharedMoved / resamples, resamples == 0 ? 0 : (double)transitionMoved / resamples);
        return new TaskSegmentation(point, aPerTask, bPerTask, boot);
    }

    private static double[] Mean(double[,] perTask, int[] rows)
    {
        int layers = perTask.GetLength(1);
        var m = new double[layers];
        foreach (int r in rows)
            for (int l = 0; l < layers; l++) m[l] += perTask[r, l];
        for (int l = 0; l < layers; l++) m[l] /= rows.Length;
        return m;
    }
}
