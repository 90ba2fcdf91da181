using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Stitching;

/// <summary>
/// §14 requires stitched models to share a tokenizer (row r of A and B must be the same token of the same text).
/// Two models are compatible when their vocabulary sizes agree and they encode a fixed set of probe strings (plus any
/// texts the caller adds) to identical ids.
/// </summary>
public static class TokenizerCompatibility
{
    public static readonly IReadOnlyList<string> ProbeStrings =
    [
        "Once upon a time, there was a little girl.",
        "The quick brown fox jumps over the lazy dog 1234567890.",
        "Hello,  world!\n\tTabs, newlines; punctuation?",
        "naïve café — émigré 東京 🙂",
    ];

    /// <summary>Null when compatible, else why not.</summary>
    public static string? Difference(Transformer a, Transformer b, IEnumerable<string>? extraTexts = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.VocabSize != b.VocabSize) return $"the vocabulary sizes differ ({a.VocabSize} and {b.VocabSize}).";
        if (!a.HasTokenizer || !b.HasTokenizer) return "both models need a tokenizer to compare.";
        if (a.Tokenizer.VocabSize != b.Tokenizer.VocabSize)
            return $"the tokenizers' vocabularies differ ({a.Tokenizer.VocabSize} and {b.Tokenizer.VocabSize} tokens).";
        foreach (var text in ProbeStrings.Concat(extraTexts ?? []))
        {
            var ea = a.Tokenizer.Encode(text);
            var eb = b.Tokenizer.Encode(text);
            if (!ea.AsSpan().SequenceEqual(eb))
                return $"they encode \"{Shorten(text)}\" differently ([{string.Join(",", ea.Take(12))}…] and [{string.Join(",", eb.Take(12))}…]).";
        }
        return null;
    }

    /// <summary>Throws a <see cref="NativeLayersException"/> unless the two models share a tokenizer.</summary>
    public static void Require(Transformer a, Transformer b, IEnumerable<string>? extraTexts = null)
    {
        var why = Difference(a, b, extraTexts);
        if (why != null)
            throw new NativeLayersException($"{a.Folder.Directory} and {b.Folder.Directory} do not share a tokenizer: {why} Stitching and token-level comparison need one.");
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
