using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Probes;

/// <summary>Settings of per-layer probing.</summary>
public sealed record LayerProbeOptions
{
    /// <summary>The mean over tokens (default) or the last token; one row per prompt.</summary>
    public TokenRows Rows { get; init; } = TokenRows.MeanOfTokens;
    /// <summary>Slots 0..L to probe; null = all.</summary>
    public IReadOnlyList<int>? Slots { get; init; }
    public double HeldOutFraction { get; init; } = 0.25;
    public ulong Seed { get; init; } = 1;
    public ProbeOptions Probe { get; init; } = new();
    public int BatchSize { get; init; } = 8;
}

/// <summary>One slot's probe.</summary>
public sealed record LayerProbeResult(int Slot, double TrainAccuracy, double HeldOutAccuracy, double HeldOutCrossEntropy, int Iterations, bool Converged);

/// <summary>Per-slot probes plus the split, the class names and the majority-class baseline of the held-out set.</summary>
public sealed record ProbeReport(IReadOnlyList<string> Classes, int[] TrainIndices, int[] HeldOutIndices, double MajorityBaseline,
    IReadOnlyList<LayerProbeResult> Layers);

/// <summary>
/// Linear probes per residual slot: run every labelled prompt once, pool each slot's rows per prompt, split
/// deterministically (seeded, stratified), train a multinomial logistic probe on each slot and report held-out accuracy.
/// </summary>
public static class LayerProbing
{
    public static ProbeReport Run(Transformer model, IReadOnlyList<LabelledText> data, LayerProbeOptions? options = null,
        IProgress<(string Stage, double Fraction)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new LayerProbeOptions();
        if (!options.Rows.OneRowPerSequence) throw new NativeLayersException("probes take one row per prompt: use pooled (mean) or last.");
        if (!model.HasTokenizer) throw new NativeLayersException($"{model.Folder.Directory} has no tokenizer to encode the texts.");
        var prompts = data.Select(d => model.Tokenizer.Encode(d.Text)).ToArray();
        progress?.Report(("activations", 0));
        var slots = options.Slots ?? Enumerable.Range(0, model.Layers + 1).ToArray();
        var features = LayerActivations.Collect(model, prompts,
            new ActivationOptions { Rows = options.Rows, Slots = slots, BatchSize = options.BatchSize },
            new Progress<int>(done => progress?.Report(("activations", 0.5 * done / prompts.Length))));
        return Run(features, slots, data.Select(d => d.Label).ToArray(), options, progress);
    }

    /// <summary>Probes given features (one matrix per slot, one row per example) and string labels.</summary>
    public static ProbeReport Run(IReadOnlyList<Matrix> features, IReadOnlyList<int> slots, IReadOnlyList<string> labels, LayerProbeOptions options,
        IProgress<(string Stage, double Fraction)>? progress = null)
    {
        if (features.Count != slots.Count) throw new NativeLayersException("one feature matrix per slot is needed.");
        var classes = labels.Distinct().OrderBy(l => l, StringComparer.Ordinal).ToArray();
        if (classes.Length < 2) throw new NativeLayersException($"probing needs at least two labels; the data has {classes.Length}.");
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        var y = labels.Select(l => index[l]).ToArray();
        var (train, held) = ProbeSplit.Stratified(y, options.HeldOutFraction, options.Seed);
        if (held.Length == 0 || train.Length == 0) throw new NativeLayersException("too few examples to hold any out; give at least two per label.");
        var yTrain = train.Select(i => y[i]).ToArray();
        var yHeld = held.Select(i => y[i]).ToArray();
        int majority = yTrain.GroupBy(v => v).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        double baseline = yHeld.Count(v => v == majority) / (double)yHeld.Length;

        var results = new List<LayerProbeResult>();
        for (int k = 0; k < slots.Count; k++)
        {
            progress?.Report(($"probing slot {slots[k]}", 0.5 + 0.5 * k / slots.Count));
            var xTrain = Rows(features[k], train);
            var xHeld = Rows(features[k], held);
            var probe = LogisticProbe.Train(xTrain, yTrain, classes.Length, options.Probe);
            results.Add(new LayerProbeResult(slots[k], probe.Accuracy(xTrain, yTrain), probe.Accuracy(xHeld, yHeld),
                probe.CrossEntropy(xHeld, yHeld), probe.Iterations, probe.Converged));
        }
        progress?.Report(("done", 1));
        return new ProbeReport(classes, train, held, baseline, results);
    }

    internal static Matrix Rows(Matrix m, IReadOnlyList<int> rows)
    {
        var r = new Matrix(rows.Count, m.Cols);
        for (int i = 0; i < rows.Count; i++) m.Row(rows[i]).CopyTo(r.Row(i));
        return r;
    }
}
