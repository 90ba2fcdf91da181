using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Probes;
using NativeLayers.Analysis.Segmentation;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Studies;

/// <summary>One task's curves over layers 1..L: CKA between base and tuned, held-out probe accuracy of each (NaN when the task cannot be probed).</summary>
public sealed record TaskLayers(string Task, int Examples, double[] Cka, double[] BaseProbe, double[] TunedProbe, string? ProbeNote);

/// <summary>A contiguous run of layers with one role; layers are 1-based (layer l = the output of block l−1, residual slot l).</summary>
public sealed record LayerRole(string Role, int First, int Last);

public sealed record LayerRolesResult(int Layers, IReadOnlyList<TaskLayers> Tasks, TaskSegmentation Segmentation, SegmentationOptions Options)
{
    /// <summary>The non-empty segments in layer order; together they cover layers 1..L once.</summary>
    public IReadOnlyList<LayerRole> Segments
    {
        get
        {
            var s = Segmentation.Segments;
            return new[] { new LayerRole("shared", s.Shared.First, s.Shared.Last), new LayerRole("transition", s.Transition.First, s.Transition.Last),
                new LayerRole("refinement", s.Refinement.First, s.Refinement.Last) }.Where(r => r.Last >= r.First).ToList();
        }
    }
}

/// <summary>
/// Zhao/Ziser/Cohen 2024 with two models: per task and layer, linear CKA between a base and a tuned model on the
/// task's last-prompt-token activations (§15's protocol) and a linear probe on each. With one tuned model standing in
/// for both the instruction-tuned model and the task's control, §15's curves become a_l = CKA(tuned, tuned) = 1 and
/// b_l = CKA(base_l, tuned_l), so the gap is 1 − b_l and the segmentation rule applies unchanged.
/// </summary>
public static class LayerRolesStudy
{
    public static LayerRolesResult Run(Transformer baseModel, Transformer tuned, IReadOnlyList<(string Task, IReadOnlyList<LabelledText> Examples)> tasks,
        SegmentationOptions segmentation, LayerProbeOptions probes, int resamples = 1000, ulong seed = 1)
    {
        if (baseModel.Layers != tuned.Layers || baseModel.Width != tuned.Width)
            throw new NativeLayersException($"the models must have the same architecture: {baseModel.Layers} and {tuned.Layers} layers, width {baseModel.Width} and {tuned.Width}.");
        int layers = baseModel.Layers;
        var slots = Enumerable.Range(1, layers).ToArray();
        var rows = new ActivationOptions { Rows = TokenRows.LastToken, Slots = slots };
        var results = new List<TaskLayers>();
        foreach (var (task, examples) in tasks)
        {
            var ids = examples.Select(e => baseModel.Tokenizer.Encode(e.Text)).ToArray();
            var b = LayerActivations.Collect(baseModel, ids, rows);
            var t = LayerActivations.Collect(tuned, ids, rows);
            var cka = slots.Select((_, k) => LayerSimilarity.Pair(b[k], t[k], SimilarityMethod.LinearCka)).ToArray();
            var (baseProbe, tunedProbe, note) = Probe(b, t, slots, examples, probes with { Rows = TokenRows.LastToken });
            results.Add(new TaskLayers(task, examples.Count, cka, baseProbe, tunedProbe, note));
        }
        var a = new double[results.Count, layers];
        var bb = new double[results.Count, layers];
        for (int i = 0; i < results.Count; i++)
            for (int l = 0; l < layers; l++)
            {
                a[i, l] = 1;
                bb[i, l] = results[i].Cka[l];
            }
        return new LayerRolesResult(layers, results, LayerSegmentation.SegmentTasks(a, bb, segmentation, resamples, seed), segmentation);
    }

    private static (double[] Base, double[] Tuned, string? Note) Probe(Matrix[] b, Matrix[] t, int[] slots, IReadOnlyList<LabelledText> examples, LayerProbeOptions options)
    {
        var labels = examples.Select(e => e.Label).ToArray();
        try
        {
            var pb = LayerProbing.Run(b, slots, labels, options);
            var pt = LayerProbing.Run(t, slots, labels, options);
            return (pb.Layers.Select(l => l.HeldOutAccuracy).ToArray(), pt.Layers.Select(l => l.HeldOutAccuracy).ToArray(), null);
        }
        catch (NativeLayersException e)
        {
            var nan = slots.Select(_ => double.NaN).ToArray();
            return (nan, [.. nan], e.Message);
        }
    }

    public static StudyReport Report(LayerRolesResult r, StudyContext context)
    {
        var seg = r.Segmentation.Segments;
        var o = r.Options;
        int L = r.Layers;
        var layerTicks = Enumerable.Range(1, L).Select(l => l.ToString()).ToList();
        var taskTicks = r.Tasks.Select(t => t.Task).ToList();
        double[,] Grid(Func<TaskLayers, double[]> pick)
        {
            var m = new double[r.Tasks.Count, L];
            for (int i = 0; i < r.Tasks.Count; i++)
                for (int l = 0; l < L; l++) m[i, l] = pick(r.Tasks[i])[l];
            return m;
        }
        var plots = new List<StudyPlot>
        {
            new("cka_heatmap.png", "linear CKA between base and tuned, tasks × layers", LayerPlots.Heatmap(PlotFormat.Png,
                $"CKA({context.Model}, {context.ModelB}) on {context.Data}", "layer (1 = after block 0)", "task", Grid(t => t.Cka), layerTicks, taskTicks, HeatmapScale.UnitInterval("linear CKA"))),
            new("segments.png", "mean CKA and gap per layer", LayerPlots.Curves(PlotFormat.Png, $"{context.Model} vs {context.ModelB}: mean CKA over tasks",
                "layer (1 = after block 0)", "linear CKA / gap", Enumerable.Range(1, L).ToArray(), [("b = mean CKA(base, tuned)", seg.B), ("gap = 1 − b", seg.Gap)])),
        };
        if (r.Tasks.Any(t => t.ProbeNote is null))
        {
            plots.Add(new("probe_base.png", "probe accuracy of the base model", LayerPlots.Heatmap(PlotFormat.Png, $"held-out probe accuracy, {context.Model}",
                "layer", "task", Grid(t => t.BaseProbe), layerTicks, taskTicks, HeatmapScale.UnitInterval("accuracy"))));
            plots.Add(new("probe_tuned.png", "probe accuracy of the tuned model", LayerPlots.Heatmap(PlotFormat.Png, $"held-out probe accuracy, {context.ModelB}",
                "layer", "task", Grid(t => t.TunedProbe), layerTicks, taskTicks, HeatmapScale.UnitInterval("accuracy"))));
        }
        string Range(LayerRole s) => s.First == s.Last ? $"layer {s.First}" : $"layers {s.First}–{s.Last}";
        string segments = string.Join(", ", r.Segments.Select(s => $"{s.Role} {Range(s)}"));
        var boot = r.Segmentation.Bootstrap;
        var rule = $"§15 of metrics.md: with a_l = 1 and b_l = mean over tasks of CKA(base_l, tuned_l), gap g_l = a_l − b_l; shared = the longest prefix with min(a_l, b_l) ≥ θ_s = {SlotChoice.F(o.SharedThreshold)} and g_l ≤ ε = {SlotChoice.F(o.SharedGap)} (last layer s); transition = s+1 … t, t the first layer after s with g_l ≥ ρ·max g, ρ = {SlotChoice.F(o.TransitionFraction)} (L when none); refinement = t+1 … L.";
        var perTask = r.Tasks.Select(t => (IReadOnlyList<string>)[t.Task, t.Examples.ToString(),
            string.Join(" ", t.Cka.Select(SlotChoice.F)), string.Join(" ", t.BaseProbe.Select(SlotChoice.F)), string.Join(" ", t.TunedProbe.Select(SlotChoice.F))]).ToList();
        var perLayer = Enumerable.Range(0, L).Select(l => (IReadOnlyList<string>)[(l + 1).ToString(), SlotChoice.F(seg.B[l]), SlotChoice.F(seg.Gap[l]),
            r.Segments.First(s => s.First <= l + 1 && l + 1 <= s.Last).Role]).ToList();
        var caveats = new List<string>
        {
            "One tuned model stands in for both the instruction-tuned model and the per-task control models of (c), so a_l ≡ 1 and only b_l carries information.",
            "CKA is linear CKA on last-prompt-token activations, one row per example; with few examples per task it is biased upwards.",
            $"The bootstrap resamples tasks ({r.Tasks.Count}); with one task it cannot move the boundaries.",
        };
        caveats.AddRange(r.Tasks.Where(t => t.ProbeNote is not null).Select(t => $"task {t.Task}: no probe ({t.ProbeNote})"));
        return new StudyReport
        {
            Study = "layer-roles",
            Title = $"Layer roles of {context.ModelB} against {context.Model} on {context.Data}",
            WhatWasRun =
            [
                $"Both models on {r.Tasks.Sum(t => t.Examples)} labelled prompts in {r.Tasks.Count} task(s); the last prompt token's residual stream after each of the {L} blocks.",
                "Per task and layer: linear CKA between the base and the tuned model, and a held-out linear probe (nl probe's defaults, last token) on each.",
                $"The layers segmented by the rule of metrics.md §15 on the task-averaged curves, with a bootstrap over tasks ({boot.Resamples} resamples, seed {boot.Seed}).",
            ],
            Settings =
            [
                ("base model", context.ModelPath), ("tuned model", context.ModelBPath ?? context.ModelPath), ("data", context.DataPath),
                ("θ_s", SlotChoice.F(o.SharedThreshold)), ("ε", SlotChoice.F(o.SharedGap)), ("ρ", SlotChoice.F(o.TransitionFraction)),
                ("bootstrap resamples", boot.Resamples.ToString()), ("bootstrap seed", boot.Seed.ToString()),
            ],
            Answers =
            [
                new("Which layers are shared, which change in transition, which are refined?",
                    $"{segments} (of {L}). The mean CKA between the models is {string.Join(", ", seg.B.Select((v, l) => $"{SlotChoice.F(v)} at layer {l + 1}"))}. Rule: {rule}"),
                new("How stable are the boundaries?",
                    $"Resampling tasks moves the end of the shared range in {SlotChoice.F(100 * boot.SharedEndMoved)}% and the end of the transition in {SlotChoice.F(100 * boot.TransitionEndMoved)}% of {boot.Resamples} resamples."),
                new("What do the probes say?", r.Tasks.All(t => t.ProbeNote is not null) ? "No task could be probed (see the caveats)."
                    : string.Join(" ", r.Tasks.Where(t => t.ProbeNote is null).Select(t =>
                        $"{t.Task}: best held-out accuracy {SlotChoice.F(t.BaseProbe.Max())} (base, layer {Array.IndexOf(t.BaseProbe, t.BaseProbe.Max()) + 1}) vs {SlotChoice.F(t.TunedProbe.Max())} (tuned, layer {Array.IndexOf(t.TunedProbe, t.TunedProbe.Max()) + 1})."))),
            ],
            Tables =
            [
                new StudyTable("per layer (task means)", ["layer", "mean CKA(base, tuned)", "gap", "role"], perLayer),
                new StudyTable("per task (values for layers 1..L)", ["task", "examples", "CKA", "base probe accuracy", "tuned probe accuracy"], perTask),
            ],
            Plots = plots,
            Caveats = caveats,
            Results = new
            {
                study = "layer-roles",
                model = context.ModelPath,
                model_b = context.ModelBPath ?? context.ModelPath,
                data = context.DataPath,
                settings = new { shared_threshold = o.SharedThreshold, shared_gap = o.SharedGap, transition_fraction = o.TransitionFraction,
                    bootstrap_resamples = boot.Resamples, seed = boot.Seed, cka = "linear", rows = "last token" },
                layers = Enumerable.Range(1, L).ToArray(),
                segments = r.Segments.Select(s => new { role = s.Role, layers = new[] { s.First, s.Last } }),
                rule,
                shared_end = seg.SharedEnd,
                transition_end = seg.TransitionEnd,
                a = seg.A,
                b = seg.B,
                gap = seg.Gap,
                tasks = r.Tasks.Select(t => new { task = t.Task, examples = t.Examples, cka = t.Cka, base_probe_accuracy = t.BaseProbe, tuned_probe_accuracy = t.TunedProbe, probe_note = t.ProbeNote }),
                bootstrap = new { resamples = boot.Resamples, seed = boot.Seed, shared_end_moved = boot.SharedEndMoved, transition_end_moved = boot.TransitionEndMoved,
                    shared_end_counts = boot.SharedEndCounts.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value),
                    transition_end_counts = boot.TransitionEndCounts.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value) },
                seconds = context.Seconds,
            },
        };
    }
}
