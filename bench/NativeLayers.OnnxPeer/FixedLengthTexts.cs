using NativeLayers.Tokenizing;

namespace NativeLayers.OnnxPeer;

/// <summary>Deterministic texts that the model's tokenizer encodes to exactly the asked number of tokens, specials included.</summary>
public static class FixedLengthTexts
{
    private static readonly string[] Words =
    [
        "the", "river", "quiet", "market", "morning", "station", "garden", "winter", "letter", "window", "music", "paper",
        "simple", "bridge", "forest", "city", "small", "green", "light", "house", "road", "water", "stone", "table",
        "people", "school", "summer", "night", "voice", "story", "history", "science", "engine", "model", "language",
        "open", "close", "walk", "read", "write", "build", "carry", "follow", "answer", "question", "number", "field",
    ];

    public static string[] Make(ITextTokenizer tokenizer, int count, int tokens, int seed = 0)
    {
        var singleTokenWords = Words.Where(w => tokenizer.Encode(w, addSpecialTokens: false).Length == 1).ToArray();
        int specials = tokenizer.Encode("the").Length - 1;
        var random = new Random(seed);
        var texts = new string[count];
        for (int i = 0; i < count; i++)
        {
            texts[i] = string.Join(' ', Enumerable.Range(0, tokens - specials).Select(_ => singleTokenWords[random.Next(singleTokenWords.Length)]));
            int length = tokenizer.Encode(texts[i]).Length;
            if (length != tokens) throw new InvalidOperationException($"text {i} encodes to {length} tokens, not {tokens}.");
        }
        return texts;
    }
}
