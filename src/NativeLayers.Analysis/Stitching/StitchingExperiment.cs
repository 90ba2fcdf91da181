using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Stitching;

/// <summary>Settings of a stitching run (§14).</summary>
public sealed record StitchingOptions
{
    /// <summary>A's slots i (rows of the penalty matrix); null = all 0..L_A.</summary>
    public IReadOnlyList<int>? SlotsA { get; init; }
    /// <summary>B's slots j (columns); null = all 0..L_B.</summary>
    public IReadOnlyList<int>? SlotsB { get; init; }
    /// <summary>Ridge λ; null = the default rule 1e-6·tr(X_cᵀX_c)/d_A.</summary>
    public double? Ridge { get; init; }
    /// <summary>Every k-th text (k = round(1/f)) is held out for the held-out MSE/R² and the losses.</summary>
    public double HeldOutFraction { get; init; } = 0.25;
    public int BatchSize { get; init; } = 8;
}

/// <summary>One (i, j) stitch: the fit, its in-sample and held-out quality, and B's loss through it.</summary>
public sealed record StitchCell(int SlotA, int SlotB, double Lambda, StitchFitMetrics InSample, StitchFitMetrics HeldOut,
    double StitchedLoss, double Penalty, double? PenaltyVsA);

/// <summary>The penalty matrix and everything behind it.</summary>
public sealed record StitchingReport(IReadOnlyList<int> SlotsA, IReadOnlyList<int> SlotsB, double LossB, double? LossA,
    int TrainTexts, int HeldOutTexts, int TrainTokens, int HeldOutTokens, IReadOnlyList<StitchCell> Cells)
{
    public StitchCell Cell(int slotA, int slotB) => Cells.First(c => c.SlotA == slotA && c.SlotB == slotB);

    /// <summary>Penalties as [SlotsA.Count, SlotsB.Count].</summary>
    public double[,] PenaltyMatrix()
    {
        var m = new double[SlotsA.Count, SlotsB.Count];
        for (int i = 0; i < SlotsA.Count; i++)
            for (int j = 0; j < SlotsB.Count; j++) m[i, j] = Cell(SlotsA[i], SlotsB[j]).Penalty;
        return m;
    }
}

/// <summary>
/// Linear stitching (§14): fit A's slot i → B's slot j by affine least squares on the training texts' tokens, then on
/// held-out texts run A to slot i, map every position, write it into B's residual as slot j
/// (<see cref="Transformer.ForwardFrom"/>) and run B's blocks j..L_B−1, final norm and head. The stitching penalty is
/// ℒ_stitch − ℒ_B on the same held-out tokens. A and B must share a tokenizer (checked here).
/// </summary>
public static class StitchingExperiment
{
    public static StitchingReport Run(Transformer a, Transformer b, IReadOnlyList<string> texts, StitchingOptions? options = null,
        IProgress<(string Stage, double Fraction)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        TokenizerCompatibility.Require(a, b, texts.Take(4));
        var sequences = texts.Select(t => a.Tokenizer.Encode(t)).ToArray();
        return Run(a, b, sequences, options, progress);
    }

    /// <summary>As above with token ids already encoded (the caller vouches for the shared tokenizer).</summary>
    public static StitchingReport Run(Transformer a, Transformer b, IReadOnlyList<int[]> sequences, StitchingOptions? options = null,
        IProgress<(string Stage, double Fraction)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        options ??= new StitchingOptions();
        if (!b.HasLanguageModelHead) throw new NativeLayersException($"{b.Folder.Directory} has no language-model head: stitching measures B's next-token loss.");
        if (a.VocabSize != b.VocabSize) throw new NativeLayersException($"the models' vocabularies differ ({a.VocabSize} and {b.VocabSize}); they must share a tokenizer.");
        if (!(options.HeldOutFraction > 0 && options.HeldOutFraction < 1)) throw new NativeLayersException("the held-out fraction must be in (0, 1).");
        var slotsA = options.SlotsA ?? Enumerable.Range(0, a.Layers + 1).ToArray();
        var slotsB = options.SlotsB ?? Enumerable.Range(0, b.Layers + 1).ToArray();
        foreach (int s in slotsA) if (s < 0 || s > a.Layers) throw new NativeLayersException($"A has slots 0..{a.Layers}, got {s}.");
        foreach (int s in slotsB) if (s < 0 || s > b.Layers) throw new NativeLayersException($"B has slots 0..{b.Layers}, got {s}.");

        int every = Math.Max(2, (int)Math.Round(1 / options.HeldOutFraction));
        var heldOut = sequences.Where((_, i) => i % every == every - 1).ToArray();
        var train = sequences.Where((_, i) => i % every != every - 1).ToArray();
        if (heldOut.Length == 0 || train.Length == 0)
            throw new NativeLayersException($"{sequences.Count} text(s) cannot be split into training and held-out text; give at least {every}.");
        if (heldOut.All(s => s.Length < 2)) throw new NativeLayersException("the held-out texts need at least two tokens to measure a next-token loss.");

        progress?.Report(("activations", 0));
        var collect = new ActivationOptions { Rows = TokenRows.EveryToken, BatchSize = options.BatchSize };
        var trainA = LayerActivations.Collect(a, train, collect with { Slots = slotsA });
        var trainB = LayerActivations.Collect(b, train, collect with { Slots = slotsB });
        var testA = LayerActivations.Collect(a, heldOut, collect with { Slots = slotsA });
        var testB = LayerActivations.Collect(b, heldOut, collect with { Slots = slotsB });
        double lossB = LanguageModelLoss.Of(b, heldOut, options.BatchSize).Mean;
        double? lossA = a.HasLanguageModelHead ? LanguageModelLoss.Of(a, heldOut, options.BatchSize).Mean : null;

        var cells = new List<StitchCell>();
        int total = slotsA.Count * slotsB.Count, done = 0;
        for (int ia = 0; ia < slotsA.Count; ia++)
        {
            for (int jb = 0; jb < slotsB.Count; jb++)
            {
                progress?.Report(($"slot {slotsA[ia]} → {slotsB[jb]}", (double)done / total));
                var map = AffineStitch.Fit(trainA[ia], trainB[jb], options.Ridge);
                var inSample = map.Evaluate(trainA[ia], trainB[jb]);
                var held = map.Evaluate(testA[ia], testB[jb]);
                double stitched = StitchedLoss(b, slotsB[jb], map.Apply(testA[ia]), heldOut, options.BatchSize);
                cells.Add(new StitchCell(slotsA[ia], slotsB[jb], map.Lambda, inSample, held, stitched, stitched - lossB,
                    lossA is double la ? stitched - la : null));
                done++;
            }
        }
        progress?.Report(("done", 1));
        return new StitchingReport(slotsA, slotsB, lossB, lossA, train.Length, heldOut.Length,
            train.Sum(s => s.Length), heldOut.Sum(s => s.Length), cells);
    }

    /// <summary>B's loss when its slot <paramref name="slotB"/> is replaced by <paramref name="mapped"/> (all held-out tokens, in order).</summary>
    public static double StitchedLoss(Transformer b, int slotB, Matrix mapped, IReadOnlyList<int[]> sequences, int batchSize = 8)
    {
        if (mapped.Cols != b.Width) throw new NativeLayersException($"the mapped rows have width {mapped.Cols}, B has {b.Width}.");
        var loss = new LanguageModelLoss();
        int row = 0;
        for (int start = 0; start < sequences.Count; start += batchSize)
        {
            var batch = sequences.Skip(start).Take(batchSize).ToArray();
            var residual = new List<float[]>();
            foreach (var seq in batch)
            {
                var r = new float[seq.Length * b.Width];
                for (int i = 0; i < r.Length; i++) r[i] = (float)mapped.Data[(long)row * b.Width + i];
                residual.Add(r);
                row += seq.Length;
            }
            loss.Add(b.ForwardFrom(slotB, residual, batch, new ForwardOptions { Logits = LogitsMode.All }), batch);
        }
        return loss.Mean;
    }
}
