using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>A BERT WordPiece vocabulary (vocab.txt, or a WordPiece tokenizer.json), through ML.Tokenizers' BertTokenizer.</summary>
internal sealed class WordPieceTextTokenizer : TextTokenizerBase
{
    public const string VocabFileName = "vocab.txt";

    private readonly BertTokenizer _tokenizer;
    private readonly string[] _tokens;
    private readonly HashSet<int> _skippedOnDecode;
    private readonly string _continuingPrefix;
    private readonly string _source;
    private readonly bool _lowerCase;

    private WordPieceTextTokenizer(BertTokenizer tokenizer, string[] tokens, HashSet<int> skipped, string continuingPrefix, string source, bool lowerCase)
    {
        _tokenizer = tokenizer;
        _tokens = tokens;
        _skippedOnDecode = skipped;
        _continuingPrefix = continuingPrefix;
        _source = source;
        _lowerCase = lowerCase;
    }

    public static WordPieceTextTokenizer FromVocabTxt(string modelDirectory, TokenizerConfig config)
    {
        string path = Path.Combine(modelDirectory, VocabFileName);
        string text = Encoding.UTF8.GetString(FileBytes.Read(path));
        var tokens = text.Split('\n').Select(line => line.TrimEnd('\r')).ToList();
        if (tokens.Count > 0 && tokens[^1].Length == 0)
            tokens.RemoveAt(tokens.Count - 1);
        return Create(path, VocabFileName, [.. tokens], config, config.Flag("do_lower_case") ?? true, "[UNK]", "##");
    }

    public static WordPieceTextTokenizer FromTokenizerJson(TokenizerJson json, TokenizerConfig config)
    {
        var vocab = json.Vocabulary();
        var tokens = new string[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab)
            tokens[id] = token;
        for (int id = 0; id < tokens.Length; id++)
            tokens[id] ??= $"[missing id {id}]";

        var normalizer = JsonFile.Optional(json.Root, "normalizer");
        bool lowerCase = json.TypeOf(normalizer) == "BertNormalizer"
            ? json.Flag(normalizer!.Value, "lowercase", true)
            : config.Flag("do_lower_case") ?? true;
        string unknown = JsonFile.Optional(json.Model, "unk_token") is { } unk ? json.String(unk, "model.unk_token") : "[UNK]";
        string prefix = JsonFile.Optional(json.Model, "continuing_subword_prefix") is { } p ? json.String(p, "model.continuing_subword_prefix") : "##";
        return Create(json.FilePath, TokenizerJson.FileName, tokens, config, lowerCase, unknown, prefix);
    }

    private static WordPieceTextTokenizer Create(
        string path, string source, string[] tokens, TokenizerConfig config, bool lowerCase, string unknown, string prefix)
    {
        if (tokens.Length == 0)
            throw new ModelFileException(path, "the WordPiece vocabulary is empty");
        var options = new BertOptions
        {
            LowerCaseBeforeTokenization = lowerCase,
            UnknownToken = config.Token("unk_token") ?? unknown,
            ClassificationToken = config.Token("cls_token") ?? "[CLS]",
            SeparatorToken = config.Token("sep_token") ?? "[SEP]",
            PaddingToken = config.Token("pad_token") ?? "[PAD]",
            MaskingToken = config.Token("mask_token") ?? "[MASK]",
            ContinuingSubwordPrefix = prefix,
        };
        BertTokenizer tokenizer;
        try
        {
            var vocabText = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', tokens) + "\n"));
            tokenizer = BertTokenizer.Create(vocabText, options);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new ModelFileException(path, $"cannot build a WordPiece tokenizer from it ({e.Message})", e);
        }
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = tokens.Length - 1; id >= 0; id--)
            index[tokens[id]] = id;
        var skipped = new[] { options.UnknownToken, options.ClassificationToken, options.SeparatorToken, options.PaddingToken, options.MaskingToken }
            .Where(index.ContainsKey).Select(t => index[t]).ToHashSet();
        return new WordPieceTextTokenizer(tokenizer, tokens, skipped, prefix, source, lowerCase);
    }

    public override string Description =>
        $"WordPiece ({_source}), {_tokens.Length} tokens, {(_lowerCase ? "lower-cases, " : "")}adds {_tokenizer.ClassificationToken}/{_tokenizer.SeparatorToken}";

    public override int VocabSize => _tokens.Length;
    public override int? BosId => _tokenizer.ClassificationTokenId;
    public override int? EosId => _tokenizer.SeparatorTokenId;
    public override bool AddsBos => true;

    public override int[] Encode(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. _tokenizer.EncodeToIds(text, addSpecialTokens, considerPreTokenization: true, considerNormalization: true)];
    }

    /// <summary>Joins pieces the way Hugging Face's WordPiece decoder does, then applies its clean_up_tokenization.</summary>
    public override string Decode(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            if (_skippedOnDecode.Contains(id) || id < 0 || id >= _tokens.Length)
                continue;
            string token = _tokens[id];
            if (text.Length > 0 && token.StartsWith(_continuingPrefix, StringComparison.Ordinal))
                text.Append(token, _continuingPrefix.Length, token.Length - _continuingPrefix.Length);
            else
                text.Append(text.Length > 0 ? " " : "").Append(token);
        }
        return text.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
            .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re")
            .ToString();
    }

    public override string TokenText(int id) => id >= 0 && id < _tokens.Length ? _tokens[id] : UnknownIdText(id);

    protected override ReadOnlySpan<byte> TokenBytes(int id) =>
        _skippedOnDecode.Contains(id) || id < 0 || id >= _tokens.Length ? [] : Encoding.UTF8.GetBytes(_tokens[id]);
}
