namespace NativeLayers.Runtime;

/// <summary>Which rows get logits: none, the last token of each sequence, or every token.</summary>
public enum LogitsMode { None, LastPerSequence, All }

/// <summary>The residual stream of a forward call and the logits that were asked for.</summary>
public sealed class ForwardResult(ResidualStream residual, float[]? logits, int vocabSize, LogitsMode mode)
{
    public ResidualStream Residual { get; } = residual;
    /// <summary>[rows, vocab]: one row per token (All) or per sequence (LastPerSequence); null for None.</summary>
    public float[]? Logits { get; } = logits;
    public int VocabSize { get; } = vocabSize;
    public LogitsMode Mode { get; } = mode;

    public ReadOnlySpan<float> LogitsRow(int row) =>
        (Logits ?? throw new InvalidOperationException("this forward call computed no logits.")).AsSpan(row * VocabSize, VocabSize);

    /// <summary>Logits predicting the token after the last one of sequence s.</summary>
    public ReadOnlySpan<float> LastLogits(int sequence) => Mode == LogitsMode.All
        ? LogitsRow(Residual.Sequences[sequence].FirstRow + Residual.Sequences[sequence].Count - 1)
        : LogitsRow(sequence);
}
