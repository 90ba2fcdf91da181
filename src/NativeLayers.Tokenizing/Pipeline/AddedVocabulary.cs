using NativeLayers.Tokenizing.Unicode;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>One entry of tokenizer.json's added_tokens.</summary>
internal sealed record AddedToken(string Content, int Id, bool Special, bool SingleWord, bool LStrip, bool RStrip, bool Normalized);

/// <summary>A piece of input text, or an added token found in it.</summary>
internal readonly record struct Segment(string Text, int? TokenId, bool AtOrigin);

/// <summary>
/// Finds added tokens in text the way Hugging Face's AddedVocabulary does: leftmost-longest matches, single_word
/// matches only between non-word characters, lstrip/rstrip taking the whitespace beside a match into the token.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, List<(string Pattern, AddedToken Token)>> _byFirstChar = [];

    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedToken Token)> tokens)
    {
        foreach (var (pattern, token) in tokens)
        {
            if (pattern.Length == 0)
                continue;
            if (!_byFirstChar.TryGetValue(pattern[0], out var list))
                _byFirstChar[pattern[0]] = list = [];
            if (!list.Any(e => e.Pattern == pattern))
                list.Add((pattern, token));
        }
        foreach (var list in _byFirstChar.Values)
            list.Sort((a, b) => b.Pattern.Length.CompareTo(a.Pattern.Length));
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    public void Split(Segment segment, List<Segment> output)
    {
        string text = segment.Text;
        if (IsEmpty || text.Length == 0)
        {
            output.Add(segment);
            return;
        }
        int startOffset = 0;
        int i = 0;
        while (i < text.Length)
        {
            var match = LongestAt(text, i);
            if (match is null)
            {
                i++;
                continue;
            }
            var (pattern, token) = match.Value;
            int start = i, stop = i + pattern.Length;
            i = stop;
            if (token.SingleWord)
            {
                bool startSpace = start == 0 || !EndsWithWord(text, start);
                bool stopSpace = stop == text.Length || !StartsWithWord(text, stop);
                if (!startSpace || !stopSpace)
                    continue;
            }
            if (token.LStrip)
            {
                int newStart = start;
                while (newStart > 0 && CharClass.IsWhitespace(text[newStart - 1]))
                    newStart--;
                start = Math.Max(newStart, startOffset);
            }
            if (token.RStrip)
            {
                while (stop < text.Length && CharClass.IsWhitespace(text[stop]))
                    stop++;
                i = stop;
            }
            if (startOffset < start)
                output.Add(new Segment(text[startOffset..start], null, segment.AtOrigin && startOffset == 0));
            output.Add(new Segment(text[start..stop], token.Id, false));
            startOffset = stop;
        }
        if (startOffset != text.Length)
            output.Add(new Segment(text[startOffset..], null, segment.AtOrigin && startOffset == 0));
    }

    private (string Pattern, AddedToken Token)? LongestAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out var candidates))
            return null;
        foreach (var candidate in candidates)
        {
            if (string.CompareOrdinal(text, i, candidate.Pattern, 0, candidate.Pattern.Length) == 0 && i + candidate.Pattern.Length <= text.Length)
                return candidate;
        }
        return null;
    }

    private static bool EndsWithWord(string text, int end)
    {
        int i = end - 1;
        if (char.IsLowSurrogate(text[i]) && i > 0 && char.IsHighSurrogate(text[i - 1]))
            i--;
        return CharClass.IsAlphanumeric(CodePoint.At(text, i, out _));
    }

    private static bool StartsWithWord(string text, int start) => CharClass.IsAlphanumeric(CodePoint.At(text, start, out _));
}
