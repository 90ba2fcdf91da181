using System.Text;
using NativeLayers.Tokenizing.Unicode;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>A tokenizer.json normalizer: rewrites a piece of input text before it is pre-tokenized.</summary>
internal interface INormalizer
{
    string Normalize(string text);
}

internal sealed class NfcNormalizer : INormalizer
{
    public string Normalize(string text) => UnicodeNormalization.Nfc(text);
}

internal sealed class NfdNormalizer : INormalizer
{
    public string Normalize(string text) => UnicodeNormalization.Nfd(text);
}

internal sealed class NfkcNormalizer : INormalizer
{
    public string Normalize(string text) => UnicodeNormalization.Nfkc(text);
}

internal sealed class NfkdNormalizer : INormalizer
{
    public string Normalize(string text) => UnicodeNormalization.Nfkd(text);
}

/// <summary>Lower-cases each character on its own (no final-sigma rule), as Rust's char::to_lowercase.</summary>
internal sealed class LowercaseNormalizer : INormalizer
{
    public string Normalize(string text) => Ascii.IsValid(text) ? text.ToLowerInvariant() : CodePoint.Map(text, CharClass.AppendLower);
}

/// <summary>Drops combining marks (category M); usually after NFD.</summary>
internal sealed class StripAccentsNormalizer : INormalizer
{
    public string Normalize(string text) => CodePoint.Map(text, (sb, r) =>
    {
        if (!CharClass.IsMark(r.Value))
            sb.Append(r.ToString());
    });
}

/// <summary>Trims whitespace at either end.</summary>
internal sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public string Normalize(string text)
    {
        int start = 0, end = text.Length;
        while (left && start < end && CharClass.IsWhitespace(CodePoint.At(text, start, out _)))
            start += char.IsHighSurrogate(text[start]) ? 2 : 1;
        while (right && end > start && CharClass.IsWhitespace(text[end - 1]))
            end--;
        return text[start..end];
    }
}

/// <summary>Puts a fixed string before any non-empty text (SentencePiece's "▁" for Llama-style files).</summary>
internal sealed class PrependNormalizer(string prefix) : INormalizer
{
    public string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

/// <summary>Replaces every match of a literal string or a regex.</summary>
internal sealed class ReplaceNormalizer(string? literal, UnicodeRegex? regex, string content) : INormalizer
{
    public string Normalize(string text) =>
        regex is not null ? regex.Replace(text, content)
        : literal!.Length == 0 ? text : text.Replace(literal, content, StringComparison.Ordinal);
}

internal sealed class SequenceNormalizer(IReadOnlyList<INormalizer> normalizers) : INormalizer
{
    public IReadOnlyList<INormalizer> Steps => normalizers;

    public string Normalize(string text)
    {
        foreach (var normalizer in normalizers)
            text = normalizer.Normalize(text);
        return text;
    }
}

/// <summary>BERT's normaliser: clean control characters, space out CJK ideographs, strip accents (NFD then drop Mn), lower-case.</summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool? stripAccents, bool lowercase) : INormalizer
{
    public bool Lowercases => lowercase;

    public string Normalize(string text)
    {
        if (cleanText)
        {
            text = CodePoint.Map(text, (sb, r) =>
            {
                int c = r.Value;
                if (c is 0 or 0xFFFD || c is not ('\t' or '\n' or '\r') && CharClass.IsOther(c))
                    return;
                if (CharClass.IsWhitespace(c))
                    sb.Append(' ');
                else
                    sb.Append(r.ToString());
            });
        }
        if (handleChineseChars)
        {
            text = CodePoint.Map(text, (sb, r) =>
            {
                if (CharClass.IsChinese(r.Value))
                    sb.Append(' ').Append(r.ToString()).Append(' ');
                else
                    sb.Append(r.ToString());
            });
        }
        if (stripAccents ?? lowercase)
        {
            text = CodePoint.Map(UnicodeNormalization.Nfd(text), (sb, r) =>
            {
                if (!CharClass.IsNonSpacingMark(r.Value))
                    sb.Append(r.ToString());
            });
        }
        if (lowercase)
            text = Ascii.IsValid(text) ? text.ToLowerInvariant() : CodePoint.Map(text, CharClass.AppendLower);
        return text;
    }
}
