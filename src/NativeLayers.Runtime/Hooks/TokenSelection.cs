using NativeLayers.Loading;

namespace NativeLayers.Runtime.Hooks;

public enum TokenSelectionKind { All, Last, First, Prompt, Generated, From, LastPrompt, Mask, Explicit }

/// <summary>
/// Which tokens of each sequence an operation touches or a capture keeps: the one vocabulary of steering positions,
/// capture positions and the analyses' read positions. Positions count from 0 at a sequence's first prompt token;
/// <see cref="Last"/> is the last token a forward call gives the sequence (the newest one while generating).
/// </summary>
public sealed record TokenSelection
{
    private TokenSelection(TokenSelectionKind kind, int from = 0, IReadOnlyList<bool[]>? mask = null, IReadOnlyList<int[]>? explicitPositions = null)
    {
        Kind = kind; From = from; Mask = mask; ExplicitPositions = explicitPositions;
    }

    public TokenSelectionKind Kind { get; }
    public int From { get; }
    /// <summary>With <see cref="TokenSelectionKind.Mask"/>: per sequence, one flag per position.</summary>
    public IReadOnlyList<bool[]>? Mask { get; }
    /// <summary>With <see cref="TokenSelectionKind.Explicit"/>: per sequence, the positions to keep.</summary>
    public IReadOnlyList<int[]>? ExplicitPositions { get; }

    public static TokenSelection All { get; } = new(TokenSelectionKind.All);
    public static TokenSelection Last { get; } = new(TokenSelectionKind.Last);
    public static TokenSelection First { get; } = new(TokenSelectionKind.First);
    public static TokenSelection Prompt { get; } = new(TokenSelectionKind.Prompt);
    public static TokenSelection Generated { get; } = new(TokenSelectionKind.Generated);
    public static TokenSelection LastPrompt { get; } = new(TokenSelectionKind.LastPrompt);

    public static TokenSelection StartingAt(int position) => position >= 0
        ? new(TokenSelectionKind.From, position)
        : throw new NativeLayersException($"a token selection cannot start at position {position}; positions count from 0.");

    public static TokenSelection Masked(IReadOnlyList<bool[]> mask) => new(TokenSelectionKind.Mask, mask: mask);

    public static TokenSelection At(IReadOnlyList<int[]> positions)
    {
        if (positions.SelectMany(p => p).Any(p => p < 0)) throw new NativeLayersException("explicit token positions must be ≥ 0.");
        return new(TokenSelectionKind.Explicit, explicitPositions: positions);
    }

    /// <summary>Whether <paramref name="position"/> of sequence <paramref name="sequence"/> is selected.</summary>
    /// <param name="promptLength">Tokens of the sequence's first call (its prompt).</param>
    /// <param name="end">One past the last position the current call gives the sequence.</param>
    public bool Includes(int sequence, int position, int promptLength, int end) => Kind switch
    {
        TokenSelectionKind.All => true,
        TokenSelectionKind.Last => position == end - 1,
        TokenSelectionKind.First => position == 0,
        TokenSelectionKind.Prompt => position < promptLength,
        TokenSelectionKind.Generated => position >= promptLength,
        TokenSelectionKind.From => position >= From,
        TokenSelectionKind.LastPrompt => position == promptLength - 1,
        TokenSelectionKind.Mask => sequence < Mask!.Count && position < Mask[sequence].Length && Mask[sequence][position],
        TokenSelectionKind.Explicit => sequence < ExplicitPositions!.Count && Array.IndexOf(ExplicitPositions[sequence], position) >= 0,
        _ => false,
    };

    /// <summary>Rejects a mask or position list that does not fit the batch (token counts per sequence).</summary>
    public void ValidateFor(IReadOnlyList<int> tokenCounts)
    {
        if (Kind == TokenSelectionKind.Mask &&
            (Mask!.Count != tokenCounts.Count || Mask.Zip(tokenCounts).Any(p => p.First.Length != p.Second)))
            throw new NativeLayersException("a token mask needs one flag per token of every sequence.");
        if (Kind == TokenSelectionKind.Explicit && ExplicitPositions!.Count != tokenCounts.Count)
            throw new NativeLayersException($"explicit token positions are given for {ExplicitPositions.Count} sequences, but the batch has {tokenCounts.Count}.");
        if (Kind == TokenSelectionKind.Explicit)
            for (int s = 0; s < tokenCounts.Count; s++)
                if (ExplicitPositions![s].FirstOrDefault(p => p >= tokenCounts[s], -1) is var bad and >= 0)
                    throw new NativeLayersException($"token position {bad} of sequence {s} is past its {tokenCounts[s]} tokens.");
    }

    /// <summary>all | last | first | prompt | generated | last-prompt | from:P</summary>
    public static TokenSelection Parse(string text) => text.Trim() switch
    {
        "all" => All,
        "last" => Last,
        "first" => First,
        "prompt" => Prompt,
        "generated" => Generated,
        "last-prompt" => LastPrompt,
        var t when t.StartsWith("from:") && int.TryParse(t[5..], out int p) && p >= 0 => StartingAt(p),
        _ => throw new NativeLayersException($"token selection '{text}' must be all, last, first, prompt, generated, last-prompt or from:P."),
    };

    public override string ToString() => Kind switch
    {
        TokenSelectionKind.From => $"from:{From}",
        TokenSelectionKind.LastPrompt => "last-prompt",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>How the selected tokens of a sequence become rows: one row each, their mean, or the last one.</summary>
public enum Reduction { None, Mean, Last }

/// <summary>Which tokens of each sequence become rows, and how: what every reader of activations (capture, probes, similarity, extraction) takes.</summary>
public readonly record struct TokenRows(TokenSelection Tokens, Reduction Reduction)
{
    /// <summary>One row per token.</summary>
    public static TokenRows EveryToken => new(TokenSelection.All, Reduction.None);
    /// <summary>One row per sequence: the mean over its tokens.</summary>
    public static TokenRows MeanOfTokens => new(TokenSelection.All, Reduction.Mean);
    /// <summary>One row per sequence: its last token.</summary>
    public static TokenRows LastToken => new(TokenSelection.Last, Reduction.None);

    public bool OneRowPerSequence => Reduction != Reduction.None || Tokens.Kind is TokenSelectionKind.Last or TokenSelectionKind.First or TokenSelectionKind.LastPrompt;

    /// <summary>tokens (every token), pooled or mean (mean over tokens), last or first (one token).</summary>
    public static TokenRows Parse(string text, string option) => text.Trim() switch
    {
        "tokens" or "all" => EveryToken,
        "pooled" or "mean" => MeanOfTokens,
        "last" => LastToken,
        "first" => new(TokenSelection.First, Reduction.None),
        _ => throw new NativeLayersException($"{option} must be tokens, pooled (mean), last or first, got '{text}'."),
    };

    public override string ToString() => this == EveryToken ? "tokens" : this == MeanOfTokens ? "mean" : Reduction == Reduction.None ? Tokens.ToString() : $"{Tokens}:{Reduction.ToString().ToLowerInvariant()}";
}
