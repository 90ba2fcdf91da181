using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Similarity;

/// <summary>Which slots to read and how.</summary>
public sealed record ActivationOptions
{
    /// <summary>Which tokens become rows and how (every token, the mean over tokens — <c>MeanPool</c> of §0.3 —, the last token).</summary>
    public TokenRows Rows { get; init; } = TokenRows.MeanOfTokens;
    /// <summary>Residual slots 0..L to read (§0.1); null = all of them.</summary>
    public IReadOnlyList<int>? Slots { get; init; }
    /// <summary>PaperCompat (§0.1): read slot L as <c>FinalNorm(R[L])</c> (Hugging Face's last hidden state) instead of raw R[L].</summary>
    public bool FinalNormLastSlot { get; init; }
    public int BatchSize { get; init; } = 8;
}

/// <summary>
/// Reads residual slots through the capture path: for every requested slot an n×d float64 matrix whose rows are
/// tokens or prompts (in prompt order), ready for <see cref="LayerSimilarity"/>, probes or stitching fits.
/// </summary>
public static class LayerActivations
{
    /// <summary>
    /// One batch's slots as captured tensors (in <paramref name="slots"/> order): slot 0 is hook_embed, slot l + 1
    /// blocks.l.hook_resid_post, and slot L ln_final.hook_normalized when <paramref name="finalNormLastSlot"/>.
    /// </summary>
    public static CapturedTensor[] CaptureSlots(Transformer model, IReadOnlyList<int[]> batch, IReadOnlyList<int> slots, bool finalNormLastSlot, TokenRows rows)
    {
        foreach (int s in slots)
            if (s < 0 || s > model.Layers) throw new NativeLayersException($"slot {s} is outside 0..{model.Layers}.");
        var hooks = slots.Select(s => finalNormLastSlot && s == model.Layers ? HookId.FinalNormalized : CapturePlan.SlotHooks([s])[0]).ToArray();
        var captured = Capturer.Run(model, batch, new CapturePlan { Hooks = hooks.Distinct().ToList(), Tokens = rows.Tokens, Reduction = rows.Reduction });
        return hooks.Select(h => captured[h]).ToArray();
    }

    public static Matrix[] Collect(Transformer model, IReadOnlyList<int[]> prompts, ActivationOptions? options = null, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        options ??= new ActivationOptions();
        if (prompts.Count == 0) throw new NativeLayersException("no prompts to run.");
        if (prompts.Any(p => p.Length == 0)) throw new NativeLayersException("a prompt encodes to no tokens.");
        if (options.BatchSize < 1) throw new NativeLayersException("the batch size must be ≥ 1.");
        var slots = options.Slots ?? Enumerable.Range(0, model.Layers + 1).ToArray();
        int d = model.Width;
        int rows = options.Rows.OneRowPerSequence ? prompts.Count : prompts.Sum(p => p.Length);
        var result = slots.Select(_ => new Matrix(rows, d)).ToArray();
        int row = 0;
        for (int start = 0; start < prompts.Count; start += options.BatchSize)
        {
            var batch = prompts.Skip(start).Take(options.BatchSize).ToArray();
            var captured = CaptureSlots(model, batch, slots, options.FinalNormLastSlot, options.Rows);
            for (int k = 0; k < slots.Count; k++)
            {
                var values = captured[k].Data.AsSpan(0, captured[k].Rows * d);
                var target = result[k].Data.AsSpan(row * d, values.Length);
                for (int i = 0; i < values.Length; i++) target[i] = values[i];
            }
            row += captured[0].Rows;
            progress?.Report(start + batch.Length);
        }
        return result;
    }
}
