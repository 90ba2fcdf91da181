using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Steering;
using NativeLayers.Analysis.Vectors;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Studies;

public sealed record ReasoningSteerResult(string Task, int Pairs, bool PairsFromTask, int Questions, IReadOnlyList<int> Layers, IReadOnlyList<float> Coefficients,
    ChoiceScores Unsteered, ChoiceScores[,] Grid, IReadOnlyList<LayerExtraction> Extraction, int BoundaryMismatches)
{
    /// <summary>[coefficient, layer] of one score.</summary>
    public double[,] Map(Func<ChoiceScores, double> pick)
    {
        var m = new double[Coefficients.Count, Layers.Count];
        for (int c = 0; c < Coefficients.Count; c++)
            for (int l = 0; l < Layers.Count; l++) m[c, l] = pick(Grid[c, l]);
        return m;
    }
}

/// <summary>
/// Højer et al. 2025: a control vector per block from positive vs negative completions (<see cref="ContrastiveExtraction"/>,
/// nl vector extract's defaults: MeanDiff at the last token), added at one block at a time over a sweep of coefficients;
/// per coefficient and layer, multiple-choice accuracy by log-likelihood and KL / entropy of the next-token distribution
/// against the unsteered model. Without --pairs the pairs are the first half of the questions (context + gold answer vs
/// context + a wrong one) and the scores are taken on the second half.
/// </summary>
public static class ReasoningSteerStudy
{
    public static ReasoningSteerResult Run(Transformer model, string task, IReadOnlyList<ChoiceItem> items, IReadOnlyList<ContrastivePair>? pairs,
        IReadOnlyList<int> layers, IReadOnlyList<float> coefficients)
    {
        bool fromTask = pairs is null;
        var evaluation = items;
        if (pairs is null)
        {
            if (items.Count < 6) throw new NativeLayersException($"{items.Count} questions are too few to split into extraction pairs and evaluation; give at least 6.");
            int half = items.Count / 2;
            pairs = items.Take(half).Select(q => new ContrastivePair(q.Context + q.Choices[q.Gold], q.Context + q.Choices[q.Gold == 0 ? 1 : 0])).ToList();
            evaluation = items.Skip(half).ToList();
        }
        var (vectors, extraction) = ContrastiveExtraction.Run(model, pairs, new ContrastiveExtractionOptions { Layers = layers });
        var scoring = new ChoiceScoring(model, evaluation);
        var unsteered = scoring.Score(null);
        var grid = new ChoiceScores[coefficients.Count, layers.Count];
        for (int c = 0; c < coefficients.Count; c++)
            for (int l = 0; l < layers.Count; l++)
                grid[c, l] = coefficients[c] == 0 ? unsteered : scoring.Score(new SteeringPlan().AddVector(layers[l], vectors[layers[l]].ToArray(), coefficients[c]));
        return new ReasoningSteerResult(task, pairs.Count, fromTask, evaluation.Count, layers, coefficients, unsteered, grid, extraction, scoring.BoundaryMismatches);
    }

    public static StudyReport Report(ReasoningSteerResult r, StudyContext context)
    {
        var accuracy = r.Map(s => s.Accuracy);
        var shift = r.Map(s => s.Accuracy - r.Unsteered.Accuracy);
        var kl = r.Map(s => s.KlMean);
        var entropy = r.Map(s => s.EntropyBitsMean);
        var xTicks = r.Layers.Select(l => l.ToString()).ToList();
        var yTicks = r.Coefficients.Select(c => SlotChoice.F(c)).ToList();
        string where = $"{context.Model}, {r.Task}";
        var plots = new List<StudyPlot>
        {
            new("accuracy_shift.png", "accuracy change against the unsteered model", LayerPlots.Heatmap(PlotFormat.Png, $"{where}: accuracy − unsteered ({SlotChoice.F(r.Unsteered.Accuracy)})",
                "steered block", "coefficient", shift, xTicks, yTicks, HeatmapScale.Signed("Δ accuracy"))),
            new("kl.png", "KL(base ‖ steered) of the next-token distribution", LayerPlots.Heatmap(PlotFormat.Png, $"{where}: KL(base ‖ steered), nats",
                "steered block", "coefficient", kl, xTicks, yTicks, new HeatmapScale("KL (nats)", Min: 0))),
            new("entropy.png", "entropy of the steered next-token distribution", LayerPlots.Heatmap(PlotFormat.Png, $"{where}: next-token entropy, bits (unsteered {SlotChoice.F(r.Unsteered.EntropyBitsMean)})",
                "steered block", "coefficient", entropy, xTicks, yTicks, new HeatmapScale("entropy (bits)"))),
        };
        int bc = 0, bl = 0;
        for (int c = 0; c < r.Coefficients.Count; c++)
            for (int l = 0; l < r.Layers.Count; l++)
                if (accuracy[c, l] > accuracy[bc, bl] || (accuracy[c, l] == accuracy[bc, bl] && kl[c, l] < kl[bc, bl])) (bc, bl) = (c, l);
        var rows = new List<IReadOnlyList<string>>();
        for (int c = 0; c < r.Coefficients.Count; c++)
            for (int l = 0; l < r.Layers.Count; l++)
            {
                var s = r.Grid[c, l];
                rows.Add([SlotChoice.F(r.Coefficients[c]), r.Layers[l].ToString(), SlotChoice.F(s.Accuracy), SlotChoice.F(s.AccuracyNorm), SlotChoice.F(s.GoldProbability),
                    SlotChoice.F(s.KlMean), SlotChoice.F(s.EntropyBitsMean)]);
            }
        var best = r.Grid[bc, bl];
        var caveats = new List<string>
        {
            $"{r.Questions} questions: one question moves accuracy by {SlotChoice.F(1.0 / r.Questions)}.",
            "One block is steered at a time, at every position, with the natural-norm MeanDiff vector; coefficients are multiples of that vector.",
            "KL and entropy are measured at the last context token (the first answer token's distribution).",
        };
        if (r.BoundaryMismatches > 0) caveats.Add($"{r.BoundaryMismatches} context/choice boundaries did not tokenise as a prefix; the common token prefix was used.");
        if (r.PairsFromTask) caveats.Add("The vectors come from the first half of the generated questions and are scored on the second half (same templates, new names and numbers).");
        return new StudyReport
        {
            Study = "reasoning-steer",
            Title = $"Steering {context.Model} on {r.Task}",
            WhatWasRun =
            [
                $"A MeanDiff control vector per block (last token, nl vector extract's defaults) from {r.Pairs} positive/negative pairs ({(r.PairsFromTask ? "correct vs incorrect completions of the task" : context.DataPath)}).",
                $"Each vector added at its block with each coefficient ({string.Join(", ", r.Coefficients.Select(c => SlotChoice.F(c)))}); {r.Questions} questions scored by log-likelihood of every choice (§16.2).",
                "KL(base ‖ steered) and the entropy of the next-token distribution at the end of the context (§16.1).",
            ],
            Settings =
            [
                ("model", context.ModelPath), ("task", r.Task), ("pairs", r.PairsFromTask ? "from the task" : context.DataPath),
                ("method", "MeanDiff, last token"), ("layers", string.Join(",", r.Layers)), ("coefficients", string.Join(",", r.Coefficients.Select(c => SlotChoice.F(c)))),
                ("seed", context.Seed?.ToString() ?? "—"),
            ],
            Answers =
            [
                new("Does steering improve accuracy?",
                    $"Unsteered accuracy is {SlotChoice.F(r.Unsteered.Accuracy)} (acc_norm {SlotChoice.F(r.Unsteered.AccuracyNorm)}, gold probability {SlotChoice.F(r.Unsteered.GoldProbability)}). "
                    + $"The best cell is coefficient {SlotChoice.F(r.Coefficients[bc])} at block {r.Layers[bl]}: accuracy {SlotChoice.F(best.Accuracy)} ({(best.Accuracy >= r.Unsteered.Accuracy ? "+" : "")}{SlotChoice.F(best.Accuracy - r.Unsteered.Accuracy)}), gold probability {SlotChoice.F(best.GoldProbability)}."),
                new("What does it cost the next-token distribution?",
                    $"At the best cell KL(base ‖ steered) is {SlotChoice.F(best.KlMean)} nats and the entropy {SlotChoice.F(best.EntropyBitsMean)} bits (unsteered {SlotChoice.F(r.Unsteered.EntropyBitsMean)}); across the sweep KL reaches {SlotChoice.F(kl.Cast<double>().Max())} nats."),
            ],
            Tables = [new StudyTable("every coefficient and block", ["coefficient", "block", "acc", "acc_norm", "gold probability", "KL (nats)", "entropy (bits)"], rows)],
            Plots = plots,
            Caveats = caveats,
            Results = new
            {
                study = "reasoning-steer",
                model = context.ModelPath,
                task = r.Task,
                settings = new { method = "MeanDiff", position = "last", pairs = r.PairsFromTask ? "task" : context.DataPath, seed = context.Seed, layers = r.Layers, coefficients = r.Coefficients },
                pairs = r.Pairs,
                questions = r.Questions,
                unsteered = Json(r.Unsteered),
                accuracy = StitchStudy.Jagged(accuracy),
                accuracy_norm = StitchStudy.Jagged(r.Map(s => s.AccuracyNorm)),
                accuracy_tok = StitchStudy.Jagged(r.Map(s => s.AccuracyTok)),
                gold_probability = StitchStudy.Jagged(r.Map(s => s.GoldProbability)),
                kl = StitchStudy.Jagged(kl),
                kl_variance = StitchStudy.Jagged(r.Map(s => s.KlVariance)),
                entropy_bits = StitchStudy.Jagged(entropy),
                entropy_bits_variance = StitchStudy.Jagged(r.Map(s => s.EntropyBitsVariance)),
                best = new { coefficient = r.Coefficients[bc], layer = r.Layers[bl], accuracy = best.Accuracy, kl = best.KlMean },
                vectors = r.Extraction.Select(e => new { layer = e.Layer, norm = e.Vector.Norm, train_ordered = e.Train.FractionCorrect, held_out_ordered = e.HeldOut?.FractionCorrect }),
                boundary_mismatches = r.BoundaryMismatches,
                seconds = context.Seconds,
            },
        };
    }

    private static object Json(ChoiceScores s) => new
    {
        accuracy = s.Accuracy, accuracy_norm = s.AccuracyNorm, accuracy_tok = s.AccuracyTok, gold_probability = s.GoldProbability,
        kl = s.KlMean, kl_variance = s.KlVariance, entropy_bits = s.EntropyBitsMean, entropy_bits_variance = s.EntropyBitsVariance,
    };
}
