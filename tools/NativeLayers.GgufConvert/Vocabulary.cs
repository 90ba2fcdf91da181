using System.Globalization;

namespace NativeLayers.GgufConvert;

/// <summary>
/// What llama.cpp's tokenizer metadata needs for a SentencePiece ("llama") vocabulary: one piece, score and type per id,
/// and where it came from (for the report).
/// </summary>
public sealed record Vocabulary(IReadOnlyList<string> Tokens, IReadOnlyList<float> Scores, IReadOnlyList<int> Types, string Source)
{
    public const string SentencePieceModel = "llama";

    public int Count => Tokens.Count;

    /// <summary>
    /// Ids 0–2 are &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;; then the 256 byte pieces &lt;0x00&gt;–&lt;0xFF&gt; when the vocabulary has
    /// room; every other id is a normal piece "▁tN" scored −N. Enough for llama.cpp to load a model that has no tokenizer
    /// files (token ids are then fed directly).
    /// </summary>
    public static Vocabulary Synthetic(int size)
    {
        if (size < 3) throw new ArgumentException($"a synthetic vocabulary needs at least 3 ids (<unk>, <s>, </s>), the model has {size}.");
        var tokens = new List<string>(size) { "<unk>", "<s>", "</s>" };
        var types = new List<int>(size) { (int)GgufTokenType.Unknown, (int)GgufTokenType.Control, (int)GgufTokenType.Control };
        if (size >= 3 + 256)
            for (int b = 0; b < 256; b++)
            {
                tokens.Add($"<0x{b:X2}>");
                types.Add((int)GgufTokenType.Byte);
            }
        for (int id = tokens.Count; id < size; id++)
        {
            tokens.Add("\u2581t" + id.ToString(CultureInfo.InvariantCulture));
            types.Add((int)GgufTokenType.Normal);
        }
        var scores = Enumerable.Range(0, size).Select(id => types[id] == (int)GgufTokenType.Normal ? -(float)id : 0f).ToArray();
        return new Vocabulary(tokens, scores, types, $"synthetic ({size} ids)");
    }

    /// <summary>
    /// A SentencePiece tokenizer.model, padded to the model's vocabulary size with unused "[PADn]" pieces (as
    /// convert_hf_to_gguf.py pads); a tokenizer larger than the embedding is an error.
    /// </summary>
    public static Vocabulary FromSentencePiece(string path, int modelVocabSize)
    {
        var pieces = SentencePieceModelReader.Read(path);
        if (pieces.Count > modelVocabSize)
            throw new InvalidDataException($"{path}: {pieces.Count} pieces, but the model's vocab_size is {modelVocabSize}.");
        var tokens = pieces.Select(p => p.Piece).ToList();
        var scores = pieces.Select(p => p.Score).ToList();
        var types = pieces.Select(p => p.Type).ToList();
        for (int id = pieces.Count; id < modelVocabSize; id++)
        {
            tokens.Add($"[PAD{id}]");
            scores.Add(-1000f);
            types.Add((int)GgufTokenType.Unused);
        }
        return new Vocabulary(tokens, scores, types, $"{Path.GetFileName(path)} ({pieces.Count} pieces)");
    }
}
