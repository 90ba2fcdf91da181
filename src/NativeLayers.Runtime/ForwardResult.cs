namespace NativeLayers.Runtime;

/// <summary>Which rows get logits: none, the last token of each sequence, or every token.</summary>
public enum LogitsMode { None, LastPerSequence, All }

/// <summary>The residual stream of a forward call and the logits that were asked for.</summary>
public sealed class ForwardResult(ResidualStream residual, float[]? logits, int vocabSize, LogitsMode mode,
    IReadOnlyDictionary<Hooks.HookId, float[]>? captured = null)
{
    private readonly IReadOnlyDictionary<Hooks.HookId, float[]> _captured = captured ?? new Dictionary<Hooks.HookId, float[]>();

    public ResidualStream Residual { get; } = residual;
    /// <summary>[rows, vocab]: one row per token (All) or per sequence (LastPerSequence); null for None.</summary>
    public float[]? Logits { get; } = logits;
    public int VocabSize { get; } = vocabSize;
    public LogitsMode Mode { get; } = mode;

    /// <summary>[rows, width] values at a hook point: residual slots always, computed points when they were captured.</summary>
    public ReadOnlySpan<float> Read(Hooks.HookId hook)
    {
        if (hook.Slot >= 0) return Residual.Slot(hook.Slot);
        return _captured.TryGetValue(hook, out var values)
            ? values
            : throw new Loading.NativeLayersException($"{hook.Name} was not captured; list it in ForwardOptions.Capture.");
    }

    public IReadOnlyDictionary<Hooks.HookId, float[]> Captured => _captured;

    /// <summary>The [rows, width] array behind a hook point (the slot's own buffer for residual points; not a copy).</summary>
    internal float[] ReadArray(Hooks.HookId hook) =>
        hook.Slot >= 0 ? Residual.SlotBuffer(hook.Slot).Array
        : _captured.TryGetValue(hook, out var values) ? values
        : throw new Loading.NativeLayersException($"{hook.Name} was not captured; list it in ForwardOptions.Capture.");

    public ReadOnlySpan<float> LogitsRow(int row) =>
        (Logits ?? throw new InvalidOperationException("this forward call computed no logits.")).AsSpan(row * VocabSize, VocabSize);

    /// <summary>Logits predicting the token after the last one of sequence s.</summary>
    public ReadOnlySpan<float> LastLogits(int sequence) => Mode == LogitsMode.All
        ? LogitsRow(Residual.Sequences[sequence].FirstRow + Residual.Sequences[sequence].Count - 1)
        : LogitsRow(sequence);
}
