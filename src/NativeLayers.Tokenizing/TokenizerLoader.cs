using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>Finds and loads the tokenizer in a model folder.</summary>
public static class TokenizerLoader
{
    /// <summary>Whether the folder has a tokenizer file this loader looks for (it may still fail to load).</summary>
    public static bool HasTokenizer(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        return File.Exists(Path.Combine(modelDirectory, SentencePieceTextTokenizer.FileName))
            || File.Exists(Path.Combine(modelDirectory, TokenizerJson.FileName))
            || File.Exists(Path.Combine(modelDirectory, WordPieceTextTokenizer.VocabFileName));
    }

    /// <summary>
    /// Loads, in this order of preference: a SentencePiece tokenizer.model, a Hugging Face tokenizer.json (byte-level
    /// BPE or WordPiece), a BERT vocab.txt. Settings come from tokenizer_config.json when the folder has one.
    /// </summary>
    /// <exception cref="ModelFileException">The folder or its tokenizer files are missing, unreadable or unsupported.</exception>
    public static ITextTokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory))
            throw new ModelFileException(modelDirectory, "folder not found");
        if (!HasTokenizer(modelDirectory))
            throw new ModelFileException(modelDirectory,
                $"no {SentencePieceTextTokenizer.FileName}, {TokenizerJson.FileName} or {WordPieceTextTokenizer.VocabFileName} in this folder, so there is no tokenizer to load");

        var config = TokenizerConfig.Read(modelDirectory);
        if (File.Exists(Path.Combine(modelDirectory, SentencePieceTextTokenizer.FileName)))
            return SentencePieceTextTokenizer.Load(modelDirectory, config);
        if (File.Exists(Path.Combine(modelDirectory, TokenizerJson.FileName)))
        {
            var json = TokenizerJson.Read(modelDirectory);
            return json.ModelType switch
            {
                "BPE" => ByteLevelBpeTextTokenizer.FromTokenizerJson(json, config),
                "WordPiece" => WordPieceTextTokenizer.FromTokenizerJson(json, config),
                var type => throw json.Problem($"tokenizer model type \"{type}\" is not supported (supported: byte-level BPE, WordPiece)"),
            };
        }
        return WordPieceTextTokenizer.FromVocabTxt(modelDirectory, config);
    }
}
