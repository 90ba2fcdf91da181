using System.Globalization;
using NativeLayers.Tokenizing.Unicode;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>
/// Oniguruma's Unicode \w, which the Whitespace pre-tokenizer's \w+|[^\w\s]+ uses: Alphabetic, marks, decimal digits,
/// connector punctuation and the joiners U+200C/U+200D (.NET's \w leaves out the joiners, Mc/Me and Nl).
/// </summary>
internal static class WordClass
{
    public static bool IsWord(int cp)
    {
        if (cp is 0x200C or 0x200D)
            return true;
        switch (CharClass.Category(cp))
        {
            case UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter:
            case UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark:
            case UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation:
                return true;
            default:
                // Other_Alphabetic symbols: circled and squared Latin letters.
                return cp is >= 0x24B6 and <= 0x24E9 or >= 0x1F130 and <= 0x1F149 or >= 0x1F150 and <= 0x1F169 or >= 0x1F170 and <= 0x1F189;
        }
    }
}
