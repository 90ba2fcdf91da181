using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Similarity;

/// <summary>How each prompt becomes rows of a representation matrix.</summary>
public enum RowMode
{
    /// <summary>One row per token (token-level comparisons; the models must tokenise identically).</summary>
    Tokens,
    /// <summary>One row per prompt: the mean over its tokens (<c>MeanPool</c> of §0.3).</summary>
    Pooled,
    /// <summary>One row per prompt: its last token.</summary>
    Last,
}

/// <summary>Which slots to read and how.</summary>
public sealed record ActivationOptions
{
    public RowMode Mode { get; init; } = RowMode.Pooled;
    /// <summary>Residual slots 0..L to read (§0.1); null = all of them.</summary>
    public IReadOnlyList<int>? Slots { get; init; }
    /// <summary>PaperCompat (§0.1): read slot L as <c>FinalNorm(R[L])</c> (Hugging Face's last hidden state) instead of raw R[L].</summary>
    public bool FinalNormLastSlot { get; init; }
    public int BatchSize { get; init; } = 8;
}

/// <summary>
/// Runs prompts through a model and gathers, for every requested residual slot, an n×d float64 matrix whose rows are
/// tokens or prompts (in prompt order), ready for <see cref="LayerSimilarity"/>, probes or stitching fits.
/// </summary>
public static class LayerActivations
{
    public static Matrix[] Collect(Transformer model, IReadOnlyList<int[]> prompts, ActivationOptions? options = null, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        options ??= new ActivationOptions();
        if (prompts.Count == 0) throw new NativeLayersException("no prompts to run.");
        if (prompts.Any(p => p.Length == 0)) throw new NativeLayersException("a prompt encodes to no tokens.");
        if (options.BatchSize < 1) throw new NativeLayersException("the batch size must be ≥ 1.");
        var slots = options.Slots ?? Enumerable.Range(0, model.Layers + 1).ToArray();
        foreach (int s in slots)
            if (s < 0 || s > model.Layers) throw new NativeLayersException($"slot {s} is outside 0..{model.Layers}.");
        int d = model.Width;
        int rows = options.Mode == RowMode.Tokens ? prompts.Sum(p => p.Length) : prompts.Count;
        var result = slots.Select(_ => new Matrix(rows, d)).ToArray();
        int row = 0;
        for (int start = 0; start < prompts.Count; start += options.BatchSize)
        {
            var batch = prompts.Skip(start).Take(options.BatchSize).ToArray();
            var forward = model.Forward(batch, LogitsMode.None);
            var stream = forward.Residual;
            int batchRow = row;
            for (int k = 0; k < slots.Count; k++)
            {
                int slot = slots[k];
                var target = result[k].Data;
                float[]? normed = options.FinalNormLastSlot && slot == model.Layers ? model.FinalNorm(stream.Slot(slot)) : null;
                row = batchRow;
                for (int s = 0; s < batch.Length; s++)
                {
                    var seq = stream.Sequences[s];
                    ReadOnlySpan<float> values = normed != null
                        ? normed.AsSpan(seq.FirstRow * d, seq.Count * d)
                        : stream.SequenceSlot(slot, s);
                    switch (options.Mode)
                    {
                        case RowMode.Tokens:
                            for (int i = 0; i < values.Length; i++) target[(long)row * d + i] = values[i];
                            row += seq.Count;
                            break;
                        case RowMode.Last:
                            var last = values[((seq.Count - 1) * d)..];
                            for (int i = 0; i < d; i++) target[(long)row * d + i] = last[i];
                            row++;
                            break;
                        default:
                            var mean = target.AsSpan(row * d, d);
                            for (int t = 0; t < seq.Count; t++)
                                for (int i = 0; i < d; i++) mean[i] += values[t * d + i];
                            for (int i = 0; i < d; i++) mean[i] /= seq.Count;
                            row++;
                            break;
                    }
                }
            }
            progress?.Report(start + batch.Length);
        }
        return result;
    }
}
