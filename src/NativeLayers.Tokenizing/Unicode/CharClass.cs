using System.Globalization;
using System.Text;

namespace NativeLayers.Tokenizing.Unicode;

/// <summary>The character properties Hugging Face tokenizers ask Rust's char about, for a code point.</summary>
internal static class CharClass
{
    public static UnicodeCategory Category(int cp) => CharUnicodeInfo.GetUnicodeCategory(cp);

    /// <summary>Rust's char::is_whitespace (the White_Space property).</summary>
    public static bool IsWhitespace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    /// <summary>Punctuation categories Pc, Pd, Ps, Pe, Pi, Pf, Po.</summary>
    public static bool IsPunctuation(int cp) => Category(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
        or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
        or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    public static bool IsAsciiPunctuation(int cp) => cp is >= 0x21 and <= 0x2F or >= 0x3A and <= 0x40 or >= 0x5B and <= 0x60 or >= 0x7B and <= 0x7E;

    /// <summary>What the BERT pre-tokenizer and the Punctuation pre-tokenizer split off.</summary>
    public static bool IsBertPunctuation(int cp) => IsAsciiPunctuation(cp) || IsPunctuation(cp);

    /// <summary>Rust's char::is_numeric: Nd, Nl, No.</summary>
    public static bool IsNumeric(int cp) => Category(cp) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    /// <summary>Rust's char::is_alphanumeric, approximated by letters, marks that spell letters (Mn, Mc) and numbers.</summary>
    public static bool IsAlphanumeric(int cp) => Category(cp) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
        or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
        || IsNumeric(cp);

    /// <summary>The "Other" categories (Cc, Cf, Cs, Co, Cn).</summary>
    public static bool IsOther(int cp) => Category(cp) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
        or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    public static bool IsNonSpacingMark(int cp) => Category(cp) == UnicodeCategory.NonSpacingMark;

    /// <summary>General category Mark (Mn, Mc, Me).</summary>
    public static bool IsMark(int cp) => Category(cp) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>BERT's CJK ideograph blocks, which its normaliser surrounds with spaces.</summary>
    public static bool IsChinese(int cp) => cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
        or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF
        or >= 0x2F800 and <= 0x2FA1F;

    /// <summary>Rust's char::to_lowercase, which can give more than one character (İ gives i and a combining dot).</summary>
    public static void AppendLower(System.Text.StringBuilder sb, Rune rune)
    {
        if (rune.Value == 0x130)
        {
            sb.Append("i\u0307");
            return;
        }
        var lower = Rune.ToLowerInvariant(rune);
        Span<char> buffer = stackalloc char[2];
        sb.Append(buffer[..lower.EncodeToUtf16(buffer)]);
    }
}
