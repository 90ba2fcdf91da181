using NativeLayers.Tokenizing.Unicode;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>A tokenizer.json pre-tokenizer: cuts each piece into smaller pieces (and may rewrite them).</summary>
internal interface IPreTokenizer
{
    void PreTokenize(Piece piece, List<Piece> output);
}

internal static class PreTokenizerExtensions
{
    public static List<Piece> Apply(this IPreTokenizer pre, List<Piece> pieces)
    {
        var output = new List<Piece>(pieces.Count * 2);
        foreach (var piece in pieces)
            pre.PreTokenize(piece, output);
        return output;
    }
}

internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> steps) : IPreTokenizer
{
    public IReadOnlyList<IPreTokenizer> Steps => steps;

    public void PreTokenize(Piece piece, List<Piece> output)
    {
        List<Piece> pieces = [piece];
        foreach (var step in steps)
            pieces = step.Apply(pieces);
        output.AddRange(pieces);
    }
}

/// <summary>GPT-2's byte-level pre-tokenizer: optional leading space, the GPT-2 regex split, then bytes as characters.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IPreTokenizer
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private static readonly UnicodeRegex Gpt2Regex = new(Gpt2Pattern);

    public void PreTokenize(Piece piece, List<Piece> output)
    {
        if (addPrefixSpace && !piece.Text.StartsWith(' '))
            piece = piece with { Text = " " + piece.Text };
        var parts = new List<Piece>();
        if (useRegex)
            Splitting.Split(piece, Splitting.FromMatches(piece.Text, Gpt2Regex.Matches(piece.Text)), SplitBehavior.Isolated, parts);
        else if (piece.Text.Length > 0)
            parts.Add(piece);
        foreach (var part in parts)
            output.Add(part with { Text = ByteLevelAlphabet.ToAlphabet(part.Text) });
    }
}

/// <summary>Splits on a literal string or a regex, with a delimiter behaviour; inverted, the matches are the pieces.</summary>
internal sealed class SplitPreTokenizer(string? literal, UnicodeRegex? regex, SplitBehavior behavior, bool invert) : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output)
    {
        var runs = regex is not null
            ? Splitting.FromMatches(piece.Text, regex.Matches(piece.Text))
            : Splitting.FromString(piece.Text, literal!);
        Splitting.Split(piece, invert ? Splitting.Invert(runs) : runs, behavior, output);
    }
}

/// <summary>Splits on whitespace, dropping it.</summary>
internal sealed class WhitespaceSplitPreTokenizer : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output) =>
        Splitting.Split(piece, Splitting.FromPredicate(piece.Text, CharClass.IsWhitespace), SplitBehavior.Removed, output);
}

/// <summary>Word runs and runs of other non-space characters (\w+|[^\w\s]+ with Oniguruma's classes); whitespace is dropped.</summary>
internal sealed class WhitespacePreTokenizer : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output)
    {
        string text = piece.Text;
        var runs = new List<(int Start, int End)>();
        int runStart = -1, runKind = 0;
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoint.At(text, i, out int width);
            int kind = CharClass.IsWhitespace(cp) ? 0 : WordClass.IsWord(cp) ? 1 : 2;
            if (kind != runKind)
            {
                if (runKind != 0)
                    runs.Add((runStart, i));
                runStart = i;
                runKind = kind;
            }
            i += width;
        }
        if (runKind != 0)
            runs.Add((runStart, text.Length));
        Splitting.Split(piece, Splitting.Invert(Splitting.FromMatches(text, runs)), SplitBehavior.Removed, output);
    }
}

/// <summary>BERT's pre-tokenizer: split on whitespace (removed), then every punctuation character on its own.</summary>
internal sealed class BertPreTokenizer : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output)
    {
        var words = new List<Piece>();
        Splitting.Split(piece, Splitting.FromPredicate(piece.Text, CharClass.IsWhitespace), SplitBehavior.Removed, words);
        foreach (var word in words)
            Splitting.Split(word, Splitting.FromPredicate(word.Text, CharClass.IsBertPunctuation), SplitBehavior.Isolated, output);
    }
}

internal sealed class PunctuationPreTokenizer(SplitBehavior behavior) : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output) =>
        Splitting.Split(piece, Splitting.FromPredicate(piece.Text, CharClass.IsBertPunctuation), behavior, output);
}

internal sealed class DigitsPreTokenizer(bool individualDigits) : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output) =>
        Splitting.Split(piece, Splitting.FromPredicate(piece.Text, CharClass.IsNumeric),
            individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous, output);
}

internal sealed class CharDelimiterSplitPreTokenizer(int delimiter) : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output) =>
        Splitting.Split(piece, Splitting.FromPredicate(piece.Text, c => c == delimiter), SplitBehavior.Removed, output);
}

internal enum PrependScheme
{
    Always,
    First,
    Never,
}

/// <summary>SentencePiece's word marker: spaces become "▁", one is put in front, and each "▁" starts a new piece.</summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : IPreTokenizer
{
    public void PreTokenize(Piece piece, List<Piece> output)
    {
        string text = piece.Text.Replace(' ', replacement);
        bool prepend = scheme == PrependScheme.Always || scheme == PrependScheme.First && piece.AtOrigin;
        if (prepend && !text.StartsWith(replacement))
            text = replacement + text;
        piece = piece with { Text = text };
        if (split)
            Splitting.Split(piece, Splitting.FromPredicate(text, c => c == replacement), SplitBehavior.MergedWithNext, output);
        else if (text.Length > 0)
            output.Add(piece);
    }
}
