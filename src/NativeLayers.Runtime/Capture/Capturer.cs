using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Capture;

/// <summary>Runs a batch with a capture plan and returns host tensors, one per hook point, in one call.</summary>
public static class Capturer
{
    public static Dictionary<HookId, CapturedTensor> Run(Transformer model, IReadOnlyList<int[]> batch, CapturePlan plan, ForwardOptions? options = null)
    {
        plan.Tokens.ValidateFor(batch.Select(b => b.Length).ToArray());
        var computed = plan.Hooks.Where(h => h.Slot < 0).ToList();
        var slots = plan.Hooks.Where(h => h.Slot >= 0).Select(h => h.Slot).ToList();
        var result = model.Forward(batch, (options ?? new ForwardOptions()) with
        {
            Logits = LogitsMode.None,
            Capture = [.. options?.Capture ?? [], .. computed],
            HostSlots = options?.HostSlots ?? slots,
        });
        return plan.Hooks.ToDictionary(h => h, h => Select(result, h, plan, model.Width));
    }

    /// <summary>
    /// Keeps the planned tokens of every sequence and reduces them. Every token of every sequence (the common case)
    /// hands back the forward pass's own buffer, with no copy.
    /// </summary>
    public static CapturedTensor Select(ForwardResult result, HookId hook, CapturePlan plan, int width)
    {
        var values = result.ReadArray(hook);
        var sequences = result.Residual.Sequences;
        // A point's row width is that of its values (router logits and expert ids are narrower than the stream).
        if (result.Residual.Rows > 0) width = values.Length / result.Residual.Rows;
        if (plan.Tokens.Kind == TokenSelectionKind.All && plan.Reduction == Reduction.None)
            return new CapturedTensor(hook, values, result.Residual.Rows, width, sequences.Select(s => s.Count).ToArray(),
                sequences.SelectMany(s => Enumerable.Range(s.FirstPosition, s.Count)).ToArray());

        var kept = new int[sequences.Count][];
        for (int s = 0; s < sequences.Count; s++)
        {
            var seq = sequences[s];
            int end = seq.FirstPosition + seq.Count;
            kept[s] = Enumerable.Range(0, seq.Count).Where(t => plan.Tokens.Includes(s, seq.FirstPosition + t, end, end)).ToArray();
        }
        var perSequence = kept.Select(k => k.Length == 0 ? 0 : plan.Reduction == Reduction.None ? k.Length : 1).ToArray();
        var data = new float[perSequence.Sum() * width];
        var positions = new List<int>();
        int row = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            if (kept[s].Length == 0) continue;
            int first = sequences[s].FirstRow, firstPosition = sequences[s].FirstPosition;
            var target = data.AsSpan(row * width, width);
            switch (plan.Reduction)
            {
                case Reduction.None:
                    foreach (int t in kept[s])
                    {
                        values.AsSpan((first + t) * width, width).CopyTo(data.AsSpan(row++ * width, width));
                        positions.Add(firstPosition + t);
                    }
                    continue;
                case Reduction.Last:
                    values.AsSpan((first + kept[s][^1]) * width, width).CopyTo(target);
                    break;
                case Reduction.Mean:
                    var mean = new double[width];
                    foreach (int t in kept[s])
                    {
                        var source = values.AsSpan((first + t) * width, width);
                        for (int i = 0; i < width; i++) mean[i] += source[i];
                    }
                    for (int i = 0; i < width; i++) target[i] = (float)(mean[i] / kept[s].Length);
                    break;
            }
            positions.Add(firstPosition + kept[s][^1]);
            row++;
        }
        return new CapturedTensor(hook, data, data.Length / width, width, perSequence, [.. positions]);
    }
}
