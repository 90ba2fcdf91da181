using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Capture;

/// <summary>Runs a batch with a capture plan and returns host tensors, one per hook point, in one call.</summary>
public static class Capturer
{
    public static Dictionary<HookId, CapturedTensor> Run(Transformer model, IReadOnlyList<int[]> batch, CapturePlan plan, ForwardOptions? options = null)
    {
        if (plan.Positions == CapturePositions.Mask &&
            (plan.Mask == null || plan.Mask.Count != batch.Count || plan.Mask.Zip(batch).Any(p => p.First.Length != p.Second.Length)))
            throw new NativeLayersException("a capture mask needs one bool per token of every sequence.");
        var computed = plan.Hooks.Where(h => h.Slot < 0).ToList();
        var result = model.Forward(batch, (options ?? new ForwardOptions()) with
        {
            Logits = LogitsMode.None,
            Capture = [.. options?.Capture ?? [], .. computed],
        });
        return plan.Hooks.ToDictionary(h => h, h => Select(result, h, plan, model.Width));
    }

    /// <summary>Keeps the planned positions of every sequence and reduces them.</summary>
    public static CapturedTensor Select(ForwardResult result, HookId hook, CapturePlan plan, int width)
    {
        var values = result.Read(hook);
        var sequences = result.Residual.Sequences;
        var rows = new List<float[]>();
        var perSequence = new int[sequences.Count];
        for (int s = 0; s < sequences.Count; s++)
        {
            var seq = sequences[s];
            var kept = Enumerable.Range(0, seq.Count).Where(t => plan.Positions switch
            {
                CapturePositions.Last => t == seq.Count - 1,
                CapturePositions.Mask => plan.Mask![s][t],
                _ => true,
            }).ToArray();
            if (kept.Length == 0) continue;
            switch (plan.Reduction)
            {
                case Reduction.None:
                    foreach (int t in kept) rows.Add(values.Slice((seq.FirstRow + t) * width, width).ToArray());
                    perSequence[s] = kept.Length;
                    break;
                case Reduction.Last:
                    rows.Add(values.Slice((seq.FirstRow + kept[^1]) * width, width).ToArray());
                    perSequence[s] = 1;
                    break;
                case Reduction.Mean:
                    var mean = new double[width];
                    foreach (int t in kept)
                    {
                        var row = values.Slice((seq.FirstRow + t) * width, width);
                        for (int i = 0; i < width; i++) mean[i] += row[i];
                    }
                    rows.Add(mean.Select(m => (float)(m / kept.Length)).ToArray());
                    perSequence[s] = 1;
                    break;
            }
        }
        var data = new float[rows.Count * width];
        for (int r = 0; r < rows.Count; r++) rows[r].CopyTo(data, r * width);
        return new CapturedTensor(hook, data, rows.Count, width, perSequence);
    }
}
