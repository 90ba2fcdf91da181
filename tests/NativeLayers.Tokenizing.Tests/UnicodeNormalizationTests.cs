using NativeLayers.Tokenizing.Unicode;

namespace NativeLayers.Tokenizing.Tests;

/// <summary>
/// NFC/NFD/NFKC/NFKD from the generated tables (string.Normalize does nothing under InvariantGlobalization).
/// Expected values are Python's unicodedata.normalize: canonical ordering, composition exclusions (U+0958, Ω, Å),
/// blocked marks, Hangul, compatibility forms.
/// </summary>
public class UnicodeNormalizationTests
{
    [Theory]
    [InlineData("Caf\u00E9 na\u00EFve r\u00E9sum\u00E9", "Caf\u00E9 na\u00EFve r\u00E9sum\u00E9", "Cafe\u0301 nai\u0308ve re\u0301sume\u0301", "Caf\u00E9 na\u00EFve r\u00E9sum\u00E9", "Cafe\u0301 nai\u0308ve re\u0301sume\u0301")]
    [InlineData("\uFB01nancial \uFB02ow \uFB00", "\uFB01nancial \uFB02ow \uFB00", "\uFB01nancial \uFB02ow \uFB00", "financial flow ff", "financial flow ff")]
    [InlineData("\uFF21\uFF22\uFF23\uFF11\uFF12\uFF13 \uFF76\uFF80\uFF76\uFF85", "\uFF21\uFF22\uFF23\uFF11\uFF12\uFF13 \uFF76\uFF80\uFF76\uFF85", "\uFF21\uFF22\uFF23\uFF11\uFF12\uFF13 \uFF76\uFF80\uFF76\uFF85", "ABC123 \u30AB\u30BF\u30AB\u30CA", "ABC123 \u30AB\u30BF\u30AB\u30CA")]
    [InlineData("\uD55C\uAD6D\uC5B4 \uC138\uACC4", "\uD55C\uAD6D\uC5B4 \uC138\uACC4", "\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165 \u1109\u1166\u1100\u1168", "\uD55C\uAD6D\uC5B4 \uC138\uACC4", "\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165 \u1109\u1166\u1100\u1168")]
    [InlineData("e\u0301\u0323", "\u1EB9\u0301", "e\u0323\u0301", "\u1EB9\u0301", "e\u0323\u0301")]
    [InlineData("a\u0323\u0301\u0302", "\u1EA1\u0301\u0302", "a\u0323\u0301\u0302", "\u1EA1\u0301\u0302", "a\u0323\u0301\u0302")]
    [InlineData("\u0958\u2126\u212B", "\u0915\u093C\u03A9\u00C5", "\u0915\u093C\u03A9A\u030A", "\u0915\u093C\u03A9\u00C5", "\u0915\u093C\u03A9A\u030A")]
    [InlineData("\u00C5\u0308", "\u00C5\u0308", "A\u030A\u0308", "\u00C5\u0308", "A\u030A\u0308")]
    [InlineData("x\u0345\u0301", "x\u0301\u0345", "x\u0301\u0345", "x\u0301\u0345", "x\u0301\u0345")]
    [InlineData("\u1E9B\u0323", "\u1E9B\u0323", "\u017F\u0323\u0307", "\u1E69", "s\u0323\u0307")]
    [InlineData("\U0001D400\u00BD\u2075", "\U0001D400\u00BD\u2075", "\U0001D400\u00BD\u2075", "A1\u204425", "A1\u204425")]
    [InlineData("\u0F73\u0F75", "\u0F71\u0F71\u0F72\u0F74", "\u0F71\u0F71\u0F72\u0F74", "\u0F71\u0F71\u0F72\u0F74", "\u0F71\u0F71\u0F72\u0F74")]
    [InlineData("\u1100\u1161\u11A8", "\uAC01", "\u1100\u1161\u11A8", "\uAC01", "\u1100\u1161\u11A8")]
    [InlineData("\uFF76\uFF9E", "\uFF76\uFF9E", "\uFF76\uFF9E", "\u30AC", "\u30AB\u3099")]
    [InlineData("\u337F", "\u337F", "\u337F", "\u682A\u5F0F\u4F1A\u793E", "\u682A\u5F0F\u4F1A\u793E")]
    [InlineData("", "", "", "", "")]
    [InlineData("plain ASCII", "plain ASCII", "plain ASCII", "plain ASCII", "plain ASCII")]
    public void AllFourForms(string text, string nfc, string nfd, string nfkc, string nfkd)
    {
        Assert.Equal(nfc, UnicodeNormalization.Nfc(text));
        Assert.Equal(nfd, UnicodeNormalization.Nfd(text));
        Assert.Equal(nfkc, UnicodeNormalization.Nfkc(text));
        Assert.Equal(nfkd, UnicodeNormalization.Nfkd(text));
    }
}
