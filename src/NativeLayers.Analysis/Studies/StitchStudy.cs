using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Analysis.Stitching;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Studies;

/// <summary>
/// What a stitch study measured: the penalty matrix A→B (and B→A unless one-way), linear CKA between every slot pair
/// on the same tokens, and the asymmetry A→B(i, j) − B→A(j, i).
/// </summary>
public sealed record StitchStudyResult(StitchingReport Forward, StitchingReport? Backward, SimilarityMatrix Cka)
{
    public double[,] Penalty => Forward.PenaltyMatrix();

    /// <summary>[slot of A, slot of B]: the penalty of stitching A's slot i into B's slot j minus that of B's slot j into A's slot i.</summary>
    public double[,]? Asymmetry()
    {
        if (Backward is null) return null;
        var forward = Forward.PenaltyMatrix();
        var m = new double[Forward.SlotsA.Count, Forward.SlotsB.Count];
        for (int i = 0; i < Forward.SlotsA.Count; i++)
            for (int j = 0; j < Forward.SlotsB.Count; j++) m[i, j] = forward[i, j] - Backward.Cell(Forward.SlotsB[j], Forward.SlotsA[i]).Penalty;
        return m;
    }

    /// <summary>For each slot of A, the slot of B it stitches into with the smallest penalty.</summary>
    public IReadOnlyList<(int SlotA, int SlotB, double Penalty)> BestPerSlotOfA() =>
        Forward.SlotsA.Select(i => Forward.Cells.Where(c => c.SlotA == i).MinBy(c => c.Penalty)!).Select(c => (c.SlotA, c.SlotB, c.Penalty)).ToList();

    /// <summary>For each slot of B, the slot of A that stitches into it with the smallest penalty.</summary>
    public IReadOnlyList<(int SlotB, int SlotA, double Penalty)> BestPerSlotOfB() =>
        Forward.SlotsB.Select(j => Forward.Cells.Where(c => c.SlotB == j).MinBy(c => c.Penalty)!).Select(c => (c.SlotB, c.SlotA, c.Penalty)).ToList();
}

/// <summary>
/// Brown et al. 2023: stitching penalties of every slot pair of two models that share a tokenizer (<see cref="StitchingExperiment"/>,
/// nl stitch's defaults), in both directions, beside linear CKA on the same token rows (<see cref="LayerSimilarity"/>).
/// </summary>
public static class StitchStudy
{
    public static StitchStudyResult Run(Transformer a, Transformer b, IReadOnlyList<int[]> sequences, StitchingOptions options, bool bothDirections)
    {
        var forward = StitchingExperiment.Run(a, b, sequences, options);
        var backward = bothDirections
            ? StitchingExperiment.Run(b, a, sequences, options with { SlotsA = options.SlotsB, SlotsB = options.SlotsA })
            : null;
        // Every token is a row, as in the stitching fit, so CKA and the penalty describe the same pairs of representations.
        var rows = new ActivationOptions { Rows = TokenRows.EveryToken, BatchSize = options.BatchSize };
        var cka = LayerSimilarity.Compute(LayerActivations.Collect(a, sequences, rows with { Slots = forward.SlotsA }),
            LayerActivations.Collect(b, sequences, rows with { Slots = forward.SlotsB }), SimilarityMethod.LinearCka);
        return new StitchStudyResult(forward, backward, cka);
    }

    public static StudyReport Report(StitchStudyResult r, StudyContext context, StitchingOptions options)
    {
        var f = r.Forward;
        var penalty = r.Penalty;
        var asymmetry = r.Asymmetry();
        var xTicks = f.SlotsB.Select(j => j.ToString()).ToList();
        var yTicks = f.SlotsA.Select(i => i.ToString()).ToList();
        string a = context.Model, b = context.ModelB;
        var plots = new List<StudyPlot>
        {
            new("penalty.png", $"stitching penalty {a} → {b}", LayerPlots.Heatmap(PlotFormat.Png, $"stitching penalty {a} → {b} on {context.Data}",
                $"slot j of {b}", $"slot i of {a}", penalty, xTicks, yTicks, HeatmapScale.Signed("ℒ_stitch − ℒ_B (nats/token)"))),
            new("cka.png", $"linear CKA {a} vs {b}", LayerPlots.Heatmap(PlotFormat.Png, $"linear CKA {a} vs {b} on {context.Data} (n = {r.Cka.Rows} tokens)",
                $"slot of {b}", $"slot of {a}", r.Cka.Values, xTicks, yTicks, HeatmapScale.UnitInterval("linear CKA"))),
        };
        if (asymmetry is not null)
            plots.Add(new("asymmetry.png", "asymmetry of the penalty", LayerPlots.Heatmap(PlotFormat.Png, $"penalty asymmetry: {a}→{b}(i, j) − {b}→{a}(j, i)",
                $"slot j of {b}", $"slot i of {a}", asymmetry, xTicks, yTicks, HeatmapScale.Signed("difference (nats/token)"))));

        var bestA = r.BestPerSlotOfA();
        var bestB = r.BestPerSlotOfB();
        int n = Math.Min(f.SlotsA.Count, f.SlotsB.Count);
        bool square = f.SlotsA.SequenceEqual(f.SlotsB);
        double diagonalPenalty = square ? Enumerable.Range(0, n).Average(k => penalty[k, k]) : double.NaN;
        double diagonalCka = square ? Enumerable.Range(0, n).Average(k => r.Cka.Values[k, k]) : double.NaN;
        double meanAbsAsymmetry = asymmetry is null ? double.NaN : asymmetry.Cast<double>().Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(double.NaN).Average();
        var (ckaFlat, penaltyFlat) = (r.Cka.Values.Cast<double>().ToArray(), penalty.Cast<double>().ToArray());
        double correlation = Pearson(ckaFlat, penaltyFlat);

        var answers = new List<StudyAnswer>
        {
            new("Where does each layer of A stitch best into B?",
                string.Join("; ", bestA.Select(x => $"A slot {x.SlotA} → B slot {x.SlotB} (penalty {SlotChoice.F(x.Penalty)})")) + $" nats/token, against ℒ_B = {SlotChoice.F(f.LossB)}."
                + (square ? $" Along the diagonal (slot i into slot i) the mean penalty is {SlotChoice.F(diagonalPenalty)} and the mean CKA {SlotChoice.F(diagonalCka)}." : "")),
            new("Do stitching penalty and CKA agree?",
                $"Across the {ckaFlat.Length} slot pairs the Pearson correlation between linear CKA and the penalty is {SlotChoice.F(correlation)} (negative = more similar layers stitch with less loss)."),
        };
        if (asymmetry is not null)
            answers.Add(new("Is stitching symmetric?",
                $"The mean |A→B(i, j) − B→A(j, i)| is {SlotChoice.F(meanAbsAsymmetry)} nats/token; the largest difference is {SlotChoice.F(asymmetry.Cast<double>().Where(double.IsFinite).MaxBy(Math.Abs))}."));

        var table = new List<IReadOnlyList<string>>();
        foreach (var c in f.Cells)
        {
            int i = f.SlotsA.ToList().IndexOf(c.SlotA), j = f.SlotsB.ToList().IndexOf(c.SlotB);
            table.Add([c.SlotA.ToString(), c.SlotB.ToString(), SlotChoice.F(c.Penalty), SlotChoice.F(r.Cka.Values[i, j]),
                asymmetry is null ? "—" : SlotChoice.F(asymmetry[i, j]), SlotChoice.F(c.HeldOut.MeanR2)]);
        }

        return new StudyReport
        {
            Study = "stitch",
            Title = $"Stitching {a} into {b} on {context.Data}",
            WhatWasRun =
            [
                $"Affine stitches (nl stitch's fit: ridge least squares on {f.TrainTokens} training tokens of {f.TrainTexts} texts) from every slot of {a} into every slot of {b}, scored on {f.HeldOutTokens} held-out tokens of {f.HeldOutTexts} texts.",
                r.Backward is null ? "One direction only (--one-way)." : $"The same from {b} into {a}, for the asymmetry.",
                $"Linear CKA between every slot pair on the same {r.Cka.Rows} token rows ({r.Cka.Form}).",
            ],
            Settings =
            [
                ("model A", context.ModelPath), ("model B", context.ModelBPath ?? context.ModelPath), ("text", context.DataPath),
                ("ridge λ", options.Ridge is double l ? SlotChoice.F(l) : "default (1e-6·tr(X_cᵀX_c)/d_A)"), ("held-out fraction", SlotChoice.F(options.HeldOutFraction)),
                ("CKA", "linear, every token a row"), ("both directions", (r.Backward is not null).ToString().ToLowerInvariant()),
            ],
            Answers = answers,
            Tables =
            [
                new StudyTable("best stitch per slot of A", ["slot of A", "best slot of B", "penalty"], bestA.Select(x => (IReadOnlyList<string>)[x.SlotA.ToString(), x.SlotB.ToString(), SlotChoice.F(x.Penalty)]).ToList()),
                new StudyTable("best stitch per slot of B", ["slot of B", "best slot of A", "penalty"], bestB.Select(x => (IReadOnlyList<string>)[x.SlotB.ToString(), x.SlotA.ToString(), SlotChoice.F(x.Penalty)]).ToList()),
                new StudyTable("every slot pair", ["slot of A", "slot of B", "penalty", "linear CKA", "asymmetry", "held-out R²"], table),
            ],
            Plots = plots,
            Caveats =
            [
                "The stitch is the closed-form least-squares map; a trained stitch (gradients through B) could only lower the penalties.",
                $"{f.HeldOutTexts} held-out texts ({f.HeldOutTokens} tokens): small differences between penalties may be noise.",
                "CKA is computed on all tokens of all texts (training and held-out).",
            ],
            Results = new
            {
                study = "stitch",
                model_a = context.ModelPath,
                model_b = context.ModelBPath ?? context.ModelPath,
                text = context.DataPath,
                settings = new { ridge = options.Ridge, held_out_fraction = options.HeldOutFraction, both_directions = r.Backward is not null, cka = "linear", cka_rows = "tokens" },
                slots_a = f.SlotsA,
                slots_b = f.SlotsB,
                loss_a = f.LossA,
                loss_b = f.LossB,
                train_tokens = f.TrainTokens,
                held_out_tokens = f.HeldOutTokens,
                penalty = Jagged(penalty),
                penalty_b_to_a = r.Backward is null ? null : Jagged(r.Backward.PenaltyMatrix()),
                cka = Jagged(r.Cka.Values),
                cka_rows = r.Cka.Rows,
                asymmetry = asymmetry is null ? null : Jagged(asymmetry),
                mean_abs_asymmetry = meanAbsAsymmetry,
                cka_penalty_correlation = correlation,
                best_stitch_per_slot_a = bestA.Select(x => new { slot_a = x.SlotA, slot_b = x.SlotB, penalty = x.Penalty }),
                best_stitch_per_slot_b = bestB.Select(x => new { slot_b = x.SlotB, slot_a = x.SlotA, penalty = x.Penalty }),
                cells = f.Cells.Select(c => new { slot_a = c.SlotA, slot_b = c.SlotB, lambda = c.Lambda, held_out_r2 = c.HeldOut.MeanR2, held_out_mse = c.HeldOut.Mse, stitched_loss = c.StitchedLoss, penalty = c.Penalty }),
                warnings = r.Cka.Warnings,
                seconds = context.Seconds,
            },
        };
    }

    internal static double[][] Jagged(double[,] m) =>
        Enumerable.Range(0, m.GetLength(0)).Select(i => Enumerable.Range(0, m.GetLength(1)).Select(j => m[i, j]).ToArray()).ToArray();

    private static double Pearson(double[] x, double[] y)
    {
        var pairs = x.Zip(y).Where(p => double.IsFinite(p.First) && double.IsFinite(p.Second)).ToArray();
        if (pairs.Length < 2) return double.NaN;
        double mx = pairs.Average(p => p.First), my = pairs.Average(p => p.Second);
        double sxy = pairs.Sum(p => (p.First - mx) * (p.Second - my)), sxx = pairs.Sum(p => (p.First - mx) * (p.First - mx)), syy = pairs.Sum(p => (p.Second - my) * (p.Second - my));
        return sxx > 0 && syy > 0 ? sxy / Math.Sqrt(sxx * syy) : double.NaN;
    }
}
