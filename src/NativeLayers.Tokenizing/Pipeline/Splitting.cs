using System.Text;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>A piece of text on its way to the model; <see cref="AtOrigin"/> when it starts at the start of the input.</summary>
internal readonly record struct Piece(string Text, bool AtOrigin);

/// <summary>What a split does with the delimiters it finds (Hugging Face's SplitDelimiterBehavior).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>NormalizedString::split: a text cut into matched and unmatched runs, then into pieces by a behaviour.</summary>
internal static class Splitting
{
    public static SplitBehavior ParseBehavior(string name) => name switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw new FormatException($"unknown split behavior \"{name}\""),
    };

    /// <summary>Runs of the text: each match, and the text between matches, in order (Pattern::find_matches).</summary>
    public static List<(int Start, int End, bool IsMatch)> FromMatches(string text, List<(int Start, int End)> matches)
    {
        var runs = new List<(int, int, bool)>();
        if (text.Length == 0)
        {
            runs.Add((0, 0, false));
            return runs;
        }
        int prev = 0;
        foreach (var (start, end) in matches)
        {
            if (prev != start)
                runs.Add((prev, start, false));
            runs.Add((start, end, true));
            prev = end;
        }
        if (prev != text.Length)
            runs.Add((prev, text.Length, false));
        return runs;
    }

    /// <summary>Each code point for which <paramref name="predicate"/> holds is a match of its own.</summary>
    public static List<(int Start, int End, bool IsMatch)> FromPredicate(string text, Func<int, bool> predicate)
    {
        var matches = new List<(int, int)>();
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoint.At(text, i, out int width);
            if (predicate(cp))
                matches.Add((i, i + width));
            i += width;
        }
        return FromMatches(text, matches);
    }

    public static List<(int Start, int End, bool IsMatch)> FromString(string text, string delimiter)
    {
        var matches = new List<(int, int)>();
        if (delimiter.Length > 0)
        {
            for (int i = text.IndexOf(delimiter, StringComparison.Ordinal); i >= 0; i = text.IndexOf(delimiter, i + delimiter.Length, StringComparison.Ordinal))
                matches.Add((i, i + delimiter.Length));
        }
        return FromMatches(text, matches);
    }

    public static List<(int Start, int End, bool IsMatch)> Invert(List<(int Start, int End, bool IsMatch)> runs) =>
        [.. runs.Select(r => (r.Start, r.End, !r.IsMatch))];

    /// <summary>Cuts <paramref name="piece"/> by the runs and the behaviour; empty pieces are dropped.</summary>
    public static void Split(Piece piece, List<(int Start, int End, bool IsMatch)> runs, SplitBehavior behavior, List<Piece> output)
    {
        var kept = new List<(int Start, int End)>();
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                kept.AddRange(runs.Select(r => (r.Start, r.End)));
                break;
            case SplitBehavior.Removed:
                kept.AddRange(runs.Where(r => !r.IsMatch).Select(r => (r.Start, r.End)));
                break;
            case SplitBehavior.Contiguous:
            {
                bool previous = false;
                foreach (var r in runs)
                {
                    if (r.IsMatch == previous && kept.Count > 0)
                        kept[^1] = (kept[^1].Start, r.End);
                    else
                        kept.Add((r.Start, r.End));
                    previous = r.IsMatch;
                }
                break;
            }
            case SplitBehavior.MergedWithPrevious:
            {
                bool previous = false;
                foreach (var r in runs)
                {
                    if (r.IsMatch && !previous && kept.Count > 0)
                        kept[^1] = (kept[^1].Start, r.End);
                    else
                        kept.Add((r.Start, r.End));
                    previous = r.IsMatch;
                }
                break;
            }
            case SplitBehavior.MergedWithNext:
            {
                bool previous = false;
                for (int i = runs.Count - 1; i >= 0; i--)
                {
                    var r = runs[i];
                    if (r.IsMatch && !previous && kept.Count > 0)
                        kept[^1] = (r.Start, kept[^1].End);
                    else
                        kept.Add((r.Start, r.End));
                    previous = r.IsMatch;
                }
                kept.Reverse();
                break;
            }
        }
        foreach (var (start, end) in kept)
        {
            if (end > start)
                output.Add(new Piece(piece.Text[start..end], piece.AtOrigin && start == 0));
        }
    }
}

/// <summary>Helpers over code points.</summary>
internal static class CodePoint
{
    /// <summary>The code point at <paramref name="index"/> (a lone surrogate stands for itself) and its UTF-16 width.</summary>
    public static int At(string text, int index, out int width)
    {
        if (char.IsHighSurrogate(text[index]) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            return char.ConvertToUtf32(text[index], text[index + 1]);
        }
        width = 1;
        return text[index];
    }

    /// <summary>Builds a string by appending what <paramref name="append"/> makes of each code point (a lone surrogate becomes U+FFFD).</summary>
    public static string Map(string text, Action<StringBuilder, Rune> append)
    {
        var sb = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
            append(sb, rune);
        return sb.ToString();
    }
}
