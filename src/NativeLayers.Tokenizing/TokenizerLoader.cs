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
            || File.Exists(Path.Combine(modelDirectory, HuggingFaceTextTokenizer.VocabTxtFileName));
    }

    /// <summary>
    /// Loads, in this order of preference: a SentencePiece tokenizer.model, a Hugging Face tokenizer.json (BPE,
    /// WordPiece or Unigram, with its normalizer, pre-tokenizer, post-processor and decoder), a BERT vocab.txt. Settings come from tokenizer_config.json when the folder has one.
    /// </summary>
    /// <exception cref="ModelFileException">The folder or its tokenizer files are missing, unreadable or unsupported.</exception>
    public static ITextTokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory))
            throw new ModelFileException(modelDirectory, "folder not found");
        if (!HasTokenizer(modelDirectory))
            throw new ModelFileException(modelDirectory,
                $"no {SentencePieceTextTokenizer.FileName}, {TokenizerJson.FileName} or {HuggingFaceTextTokenizer.VocabTxtFileName} in this folder, so there is no tokenizer to load");

        var config = TokenizerConfig.Read(modelDirectory);
        if (File.Exists(Path.Combine(modelDirectory, SentencePieceTextTokenizer.FileName)))
            return SentencePieceTextTokenizer.Load(modelDirectory, config);
        if (File.Exists(Path.Combine(modelDirectory, TokenizerJson.FileName)))
        {
            var json = TokenizerJson.Read(modelDirectory);
            return HuggingFaceTextTokenizer.FromTokenizerJson(json, config);
        }
        return HuggingFaceTextTokenizer.FromVocabTxt(modelDirectory, config);
    }
}
