using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Patching;

/// <summary>What to patch: hook points, the blocks to patch them in (null = all), and every position or only the last.</summary>
public sealed record PatchingOptions
{
    public required IReadOnlyList<HookPoint> Points { get; init; }
    public IReadOnlyList<int>? Layers { get; init; }
    public bool LastPositionOnly { get; init; }
    /// <summary>Patched runs per forward call (each patch is one sequence of the batch).</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Reports (grid cells done, grid cells) as batches finish.</summary>
    public IProgress<(int Done, int Total)>? Progress { get; init; }
}

/// <summary>
/// The logit differences logit(answer) − logit(wrong) at the last position: of the clean and corrupted prompts, and of
/// the corrupted prompt with one point × layer × position taken from the clean run (<see cref="Patched"/>[point][layer
/// index, position index]). <see cref="Normalized"/> maps a patched value to (patched − corrupted) / (clean − corrupted).
/// </summary>
public sealed record PatchingResult(IReadOnlyList<HookPoint> Points, int[] Layers, int[] Positions, double CleanLogitDiff, double CorruptedLogitDiff,
    IReadOnlyDictionary<HookPoint, double[,]> Patched)
{
    public double Normalized(double patched) => (patched - CorruptedLogitDiff) / (CleanLogitDiff - CorruptedLogitDiff);
}

/// <summary>
/// Activation patching (TransformerLens's core experiment): both prompts run once, then every patched run resumes the
/// corrupted run at the patched block (<see cref="Transformer.ForwardFrom"/>) with the clean value set at its point and
/// position, a batch of patches per forward call, so the cost of a patch grows with the blocks after it.
/// </summary>
public static class ActivationPatching
{
    /// <summary>The points a patch can set: residual slots and the sub-layer outputs the model has.</summary>
    public static readonly IReadOnlyList<HookPoint> PatchablePoints =
        [HookPoint.ResidPre, HookPoint.ResidMid, HookPoint.ResidPost, HookPoint.AttnOut, HookPoint.MlpOut, HookPoint.MixerOut];

    public static PatchingResult Run(Transformer model, int[] clean, int[] corrupted, int answer, int wrong, PatchingOptions options)
    {
        if (clean.Length != corrupted.Length)
            throw new NativeLayersException($"the clean prompt has {clean.Length} tokens and the corrupted one {corrupted.Length}; patching needs prompts of the same length (position by position).");
        if (clean.Length == 0) throw new NativeLayersException("the prompts have no tokens.");
        foreach (var (id, name) in new[] { (answer, "answer"), (wrong, "wrong") })
            if ((uint)id >= (uint)model.VocabSize) throw new NativeLayersException($"the {name} token #{id} is outside the vocabulary (0..{model.VocabSize - 1}).");
        if (!model.HasLanguageModelHead) throw new NativeLayersException($"{model.Folder.Directory} has no language-model head; patching compares logits.");
        int[] layers = (options.Layers ?? Enumerable.Range(0, model.Layers).ToArray()).ToArray();
        var hooks = options.Points.SelectMany(p => layers.Select(l => new HookId(p, l))).ToList();
        foreach (var p in options.Points)
            if (!PatchablePoints.Contains(p)) throw new NativeLayersException($"{HookId.ShortName(p)} cannot be patched (patchable: {string.Join(", ", PatchablePoints.Select(HookId.ShortName))}).");
        foreach (var hook in hooks) HookId.RequireExists(hook, model.Shape, "cannot patch");

        var computed = hooks.Where(h => h.Slot < 0).ToList();
        var cleanRun = model.Forward([clean], new ForwardOptions { Capture = computed, Logits = LogitsMode.LastPerSequence });
        var corruptedRun = model.Forward([corrupted], new ForwardOptions { Logits = LogitsMode.LastPerSequence });
        double Diff(ReadOnlySpan<float> logits) => (double)logits[answer] - logits[wrong];
        double cleanDiff = Diff(cleanRun.LastLogits(0)), corruptedDiff = Diff(corruptedRun.LastLogits(0));

        int width = model.Width;
        int[] positions = options.LastPositionOnly ? [clean.Length - 1] : Enumerable.Range(0, clean.Length).ToArray();
        ReadOnlySpan<float> CleanValue(HookId hook) => hook.Slot >= 0 ? cleanRun.Residual.Slot(hook.Slot) : cleanRun.Read(hook);

        var patched = options.Points.ToDictionary(p => p, _ => new double[layers.Length, positions.Length]);
        int total = hooks.Count * positions.Length, done = 0;
        var cells = hooks.SelectMany(h => positions.Select((p, i) => (Hook: h, Position: p, Index: i))).ToList();
        foreach (var group in cells.GroupBy(c => c.Hook.Layer))
            foreach (var batch in group.Chunk(Math.Max(1, options.BatchSize)))
            {
                int layer = group.Key;
                var start = corruptedRun.Residual.Slot(layer).ToArray();
                var plans = batch.Select(c => (SteeringPlan?)new SteeringPlan().Set(c.Hook, [c.Position],
                    CleanValue(c.Hook).Slice(c.Position * width, width).ToArray())).ToArray();
                var result = model.ForwardFrom(layer, batch.Select(_ => start).ToArray(), batch.Select(_ => corrupted).ToArray(),
                    new ForwardOptions { SequenceSteering = plans, Logits = LogitsMode.LastPerSequence });
                for (int i = 0; i < batch.Length; i++)
                    patched[batch[i].Hook.Point][Array.IndexOf(layers, layer), batch[i].Index] = Diff(result.LastLogits(i));
                done += batch.Length;
                options.Progress?.Report((done, total));
            }
        return new PatchingResult(options.Points, layers, positions, cleanDiff, corruptedDiff, patched);
    }
}
