using NativeLayers.Analysis.Metrics;
using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Probes;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Studies;

/// <summary>What a layer-quality run measured: <c>nl metrics</c>' result, the optional per-slot probes, and the best slots.</summary>
public sealed record LayerQualityResult(LayerMetricsResult Metrics, ProbeReport? Probes, PairScores? Pairs, IReadOnlyList<SlotChoice> Choices);

/// <summary>
/// Layer by Layer (Skean et al. 2025): every representation metric per residual slot on a prompt set (exactly
/// <see cref="LayerMetrics.Run(Transformer, IReadOnlyList{string}, LayerMetricsOptions, IProgress{LayerMetricsProgress}?)"/>),
/// per-slot linear-probe accuracy on labelled prompts, and for each the best slot and whether an intermediate slot beats the last.
/// </summary>
public static class LayerQualityStudy
{
    /// <summary>
    /// The direction the paper reads as better: lower prompt entropy (more compression), higher dataset entropy (more
    /// diverse prompts), lower curvature (straighter trajectories), higher effective rank, lower InfoNCE loss, higher
    /// LiDAR and DiME (more invariance to augmentations).
    /// </summary>
    public static bool HigherIsBetter(string metric) => metric switch
    {
        "prompt_entropy" or "curvature" or "infonce" => false,
        _ => true,
    };

    public static LayerQualityResult Run(Transformer model, IReadOnlyList<string> prompts, IReadOnlyList<LabelledText>? probeData,
        LayerMetricsOptions metrics, LayerProbeOptions probes, IReadOnlyList<ScoredPair>? scoredPairs = null, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        progress?.Report("metrics");
        var result = LayerMetrics.Run(model, prompts, metrics);
        ProbeReport? probeReport = null;
        if (probeData is not null)
        {
            progress?.Report("probes");
            probeReport = LayerProbing.Run(model, probeData, probes);
        }
        PairScores? pairScores = null;
        if (scoredPairs is not null)
        {
            progress?.Report("pairs");
            pairScores = SimilarityPairs.Run(model, scoredPairs);
        }
        var choices = result.Values.Select(kv => SlotChoice.Of(kv.Key, kv.Value, HigherIsBetter(kv.Key))).ToList();
        if (probeReport is not null)
            choices.Add(SlotChoice.Of("probe_accuracy", probeReport.Layers.Select(l => l.HeldOutAccuracy).ToArray(), higherIsBetter: true));
        if (pairScores is not null)
        {
            choices.Add(SlotChoice.Of("sts_spearman", pairScores.StsSpearman, higherIsBetter: true));
            choices.Add(SlotChoice.Of("retrieval_recall_at_1", pairScores.RetrievalRecallAt1, higherIsBetter: true));
        }
        return new LayerQualityResult(result, probeReport, pairScores, choices);
    }

    public static StudyReport Report(LayerQualityResult r, StudyContext context, LayerProbeOptions probes)
    {
        var m = r.Metrics;
        var slots = m.Slots;
        string mode = m.Mode == MetricMode.PaperCompat ? "paper" : "recommended";
        var plots = new List<StudyPlot>
        {
            new("metrics.png", "every metric per slot, one panel each", LayerPlots.Panels(PlotFormat.Png, "slot (0 = embeddings, l + 1 = after block l)", slots,
                m.Values.Select(kv => new CurvePanel($"{context.Model}: {kv.Key} on {context.Data} (n = {m.Prompts})", LayerMetricsUnits.Of(kv.Key), [("", kv.Value)])).ToList())),
        };
        if (r.Probes is { } p)
            plots.Add(new StudyPlot("probe_accuracy.png", "held-out probe accuracy per slot",
                LayerPlots.Curves(PlotFormat.Png, $"{context.Model}: linear probe accuracy on {context.ProbeData}", "slot", "held-out accuracy",
                    slots, [("held-out", p.Layers.Select(l => l.HeldOutAccuracy).ToArray()), ("majority baseline", slots.Select(_ => p.MajorityBaseline).ToArray())])));

        if (r.Pairs is { } ps)
            plots.Add(new StudyPlot("pairs.png", "STS Spearman and retrieval recall@1 per slot",
                LayerPlots.Curves(PlotFormat.Png, $"{context.Model}: embedding quality on {context.PairsData} (n = {ps.Pairs} pairs)", "slot", "Spearman ρ / recall@1",
                    slots, [("STS Spearman", ps.StsSpearman), ("retrieval recall@1", ps.RetrievalRecallAt1)])));

        var header = new List<string> { "slot" };
        header.AddRange(m.Values.Keys);
        if (r.Probes is not null) header.Add("probe accuracy");
        if (r.Pairs is not null) header.AddRange(["STS Spearman", "recall@1"]);
        var rows = slots.Select((s, i) =>
        {
            var row = new List<string> { s.ToString() };
            row.AddRange(m.Values.Values.Select(v => SlotChoice.F(v[i])));
            if (r.Probes is { } pr) row.Add(SlotChoice.F(pr.Layers[i].HeldOutAccuracy));
            if (r.Pairs is { } pp) row.AddRange([SlotChoice.F(pp.StsSpearman[i]), SlotChoice.F(pp.RetrievalRecallAt1[i])]);
            return (IReadOnlyList<string>)row;
        }).ToList();
        var best = r.Choices.Select(c => (IReadOnlyList<string>)[c.Name, c.HigherIsBetter ? "higher" : "lower", c.BestSlot.ToString(), SlotChoice.F(c.BestValue),
            c.BestIntermediateSlot.ToString(), SlotChoice.F(c.LastValue), SlotChoice.F(c.Gap), c.IntermediateBeatsLast ? "yes" : "no"]).ToList();

        int beats = r.Choices.Count(c => c.IntermediateBeatsLast);
        var answers = new List<StudyAnswer>
        {
            new("Which slot is best by each metric?", string.Join(" ", r.Choices.Where(c => c.Name != "probe_accuracy").Select(c => c.Sentence()))),
            new("Does an intermediate layer beat the last?",
                $"In {beats} of {r.Choices.Count} measures an intermediate slot (1..{slots[^1] - 1}) is better than the last slot {slots[^1]}: "
                + string.Join("; ", r.Choices.Select(c => $"{c.Name} {(c.IntermediateBeatsLast ? "yes" : "no")}, gap {SlotChoice.F(c.Gap)} (slot {c.BestIntermediateSlot})")) + "."),
        };
        if (r.Probes is { } probe)
        {
            var c = r.Choices.Single(x => x.Name == "probe_accuracy");
            answers.Add(new("Which slot is best for the probing task?",
                $"Held-out linear-probe accuracy on {probe.Classes.Count} labels ({probe.TrainIndices.Length} train / {probe.HeldOutIndices.Length} held-out prompts, majority baseline {SlotChoice.F(probe.MajorityBaseline)}) peaks at slot {c.BestSlot} ({SlotChoice.F(c.BestValue)}). "
                + (c.IntermediateBeatsLast ? $"Intermediate slot {c.BestIntermediateSlot} beats the last slot by {SlotChoice.F(c.Gap)} accuracy." : $"No intermediate slot beats the last slot ({SlotChoice.F(c.LastValue)}).")));
        }

        if (r.Pairs is { } pa)
            answers.Add(new("Which slot embeds best for similarity and retrieval?",
                string.Join(" ", r.Choices.Where(c => c.Name is "sts_spearman" or "retrieval_recall_at_1").Select(c => c.Sentence()))
                + $" ({pa.Pairs} scored pairs, mean-pooled slots, cosine similarity.)"));

        var caveats = new List<string>
        {
            "\"Better\" per metric follows the paper's reading (lower prompt entropy and curvature, higher dataset entropy, effective rank, LiDAR, DiME, lower InfoNCE); the metrics themselves have no ground truth.",
            $"{m.Prompts} prompts: small prompt sets make dataset entropy and effective rank (one row per prompt) noisy and bounded by ln n.",
            "STS and retrieval use the mean over tokens of each raw slot and cosine similarity; a model's own pooling head or normalisation (nl embed) is not applied per slot.",
        };
        caveats.AddRange(m.Warnings);
        if (r.Probes is { } pw && pw.HeldOutIndices.Length < 20) caveats.Add($"the probe accuracy rests on {pw.HeldOutIndices.Length} held-out prompts, so steps of {SlotChoice.F(1.0 / pw.HeldOutIndices.Length)} are one prompt.");

        return new StudyReport
        {
            Study = "layer-quality",
            Title = $"Layer quality of {context.Model} on {context.Data}",
            WhatWasRun =
            [
                $"nl metrics' computation (same defaults) over {m.Prompts} prompts of {context.Data} on {context.Model} ({slots.Length} residual slots, width {m.Width}).",
                r.Probes is null ? "No probe data given (--probe-data): no probe accuracy." : $"A multinomial logistic probe per slot on {context.ProbeData}, as nl probe does.",
                r.Pairs is null ? "No scored pairs given (--sts-data): no STS or retrieval scores." : $"STS Spearman correlation and retrieval recall@1 per slot on {r.Pairs.Pairs} scored pairs of {context.PairsData}.",
            ],
            Settings =
            [
                ("model", context.ModelPath), ("prompts", context.DataPath), ("metrics", string.Join(", ", m.Values.Keys)),
                ("alpha", SlotChoice.F(m.Alpha)), ("mode", mode), ("seed", m.Seed.ToString()),
                ("probe data", context.ProbeDataPath ?? "—"), ("scored pairs", context.PairsDataPath ?? "—"), ("probe position", probes.Rows.Reduction.ToString()),
                ("probe held-out fraction", SlotChoice.F(probes.HeldOutFraction)), ("probe seed", probes.Seed.ToString()), ("probe L2", SlotChoice.F(probes.Probe.L2)),
            ],
            Answers = answers,
            Tables =
            [
                new StudyTable("per-slot values", header, rows),
                new StudyTable("best slot per measure (gap = best intermediate − last, positive = intermediate better)",
                    ["measure", "better", "best slot", "best value", "best intermediate slot", "last value", "gap", "intermediate beats last"], best),
            ],
            Plots = plots,
            Caveats = caveats,
            Results = new
            {
                study = "layer-quality",
                model = context.ModelPath,
                prompts_file = context.DataPath,
                probe_data = context.ProbeDataPath,
                settings = new { alpha = m.Alpha, mode, seed = m.Seed, prompts = m.Prompts, width = m.Width, metrics = m.Values.Keys,
                    probe = new { position = probes.Rows.Reduction.ToString().ToLowerInvariant(), held_out_fraction = probes.HeldOutFraction, seed = probes.Seed, l2 = probes.Probe.L2 } },
                slots,
                metrics = m.Values,
                details = m.Details,
                probe_accuracy = r.Probes?.Layers.Select(l => l.HeldOutAccuracy).ToArray(),
                sts_data = context.PairsDataPath,
                sts_spearman = r.Pairs?.StsSpearman,
                retrieval_recall_at_1 = r.Pairs?.RetrievalRecallAt1,
                probe = r.Probes is { } pj ? new { classes = pj.Classes, majority_baseline = pj.MajorityBaseline, train = pj.TrainIndices.Length, held_out = pj.HeldOutIndices.Length,
                    layers = pj.Layers.Select(l => new { slot = l.Slot, train_accuracy = l.TrainAccuracy, held_out_accuracy = l.HeldOutAccuracy, held_out_cross_entropy = l.HeldOutCrossEntropy }) } : null,
                best_slot = r.Choices.ToDictionary(c => c.Name, c => c.BestSlot),
                intermediate_vs_last = r.Choices.ToDictionary(c => c.Name, c => new { higher_is_better = c.HigherIsBetter, best_intermediate_slot = c.BestIntermediateSlot,
                    best_intermediate_value = c.BestIntermediateValue, last_value = c.LastValue, gap = c.Gap, intermediate_beats_last = c.IntermediateBeatsLast }),
                warnings = m.Warnings,
                seconds = context.Seconds,
            },
        };
    }
}
