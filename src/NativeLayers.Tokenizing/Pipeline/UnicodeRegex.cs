using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using NativeLayers.Tokenizing.Unicode;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>
/// A .NET regex that treats a character outside the BMP as one character of its own category, as Oniguruma and Rust do:
/// .NET matches UTF-16 units, so \p{L} would not match 𝐀 (a surrogate pair). Each pair is replaced by a BMP character of
/// the same general category before matching and the match positions are mapped back.
/// </summary>
internal sealed class UnicodeRegex
{
    private static readonly char[] StandIns = BuildStandIns();
    private readonly Regex _regex;

    public UnicodeRegex(string pattern)
    {
        Pattern = pattern;
        _regex = new Regex(pattern, RegexOptions.CultureInvariant);
    }

    public string Pattern { get; }

    /// <summary>The non-overlapping matches, left to right, as (start, end) UTF-16 offsets into <paramref name="text"/>.</summary>
    public List<(int Start, int End)> Matches(string text)
    {
        var result = new List<(int, int)>();
        if (!HasSurrogatePair(text))
        {
            foreach (Match m in _regex.Matches(text))
                result.Add((m.Index, m.Index + m.Length));
            return result;
        }
        var mapped = new StringBuilder(text.Length);
        var original = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            original.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                mapped.Append(StandIns[(int)CharClass.Category(char.ConvertToUtf32(text[i], text[i + 1]))]);
                i++;
            }
            else
            {
                mapped.Append(text[i]);
            }
        }
        original.Add(text.Length);
        foreach (Match m in _regex.Matches(mapped.ToString()))
            result.Add((original[m.Index], original[m.Index + m.Length]));
        return result;
    }

    public string Replace(string text, string replacement)
    {
        var matches = Matches(text);
        if (matches.Count == 0)
            return text;
        var sb = new StringBuilder(text.Length);
        int last = 0;
        foreach (var (start, end) in matches)
        {
            sb.Append(text, last, start - last).Append(replacement);
            last = end;
        }
        return sb.Append(text, last, text.Length - last).ToString();
    }

    private static bool HasSurrogatePair(string text)
    {
        foreach (char c in text)
        {
            if (char.IsSurrogate(c))
                return true;
        }
        return false;
    }

    /// <summary>For each general category, the highest BMP character of it (rarely written, so unlikely in a pattern).</summary>
    private static char[] BuildStandIns()
    {
        var standIns = new char[32];
        for (int c = 0xFFFD; c >= 0x80; c--)
        {
            if (c is >= 0xD800 and <= 0xDFFF)
                continue;
            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (standIns[category] == '\0')
                standIns[category] = (char)c;
        }
        for (int i = 0; i < standIns.Length; i++)
        {
            if (standIns[i] == '\0')
                standIns[i] = '\uFFFD';
        }
        return standIns;
    }
}
