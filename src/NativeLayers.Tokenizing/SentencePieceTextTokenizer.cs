using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>A SentencePiece tokenizer.model (Llama, Mistral, Gemma), through ML.Tokenizers' SentencePieceTokenizer.</summary>
internal sealed class SentencePieceTextTokenizer : TextTokenizerBase
{
    public const string FileName = "tokenizer.model";

    private readonly SentencePieceTokenizer _tokenizer;
    private readonly string?[] _pieces;
    private readonly HashSet<int> _skippedOnDecode;
    private readonly bool _addEos;
    private readonly bool _removeExtraWhitespaces;

    private SentencePieceTextTokenizer(SentencePieceTokenizer tokenizer, bool addBos, bool addEos, string? padToken)
    {
        _tokenizer = tokenizer;
        AddsBos = addBos && tokenizer.BeginningOfSentenceId >= 0;
        _addEos = addEos && tokenizer.EndOfSentenceId >= 0;
        _removeExtraWhitespaces = tokenizer.Normalizer is SentencePieceNormalizer { RemoveExtraWhiteSpaces: true };
        _pieces = new string[tokenizer.Vocabulary.Values.DefaultIfEmpty(-1).Max() + 1];
        foreach (var (piece, id) in tokenizer.Vocabulary)
            _pieces[id] = piece;
        _skippedOnDecode = [tokenizer.BeginningOfSentenceId, tokenizer.EndOfSentenceId, tokenizer.UnknownId];
        if (padToken is not null && tokenizer.Vocabulary.TryGetValue(padToken, out int padId))
            _skippedOnDecode.Add(padId);
    }

    public static SentencePieceTextTokenizer Load(string modelDirectory, TokenizerConfig config)
    {
        string path = Path.Combine(modelDirectory, FileName);
        byte[] bytes = FileBytes.Read(path);
        bool addBos = config.Flag("add_bos_token") ?? true;
        bool addEos = config.Flag("add_eos_token") ?? false;
        SentencePieceTokenizer tokenizer;
        try
        {
            tokenizer = SentencePieceTokenizer.Create(new MemoryStream(bytes), addBos, addEos);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Google.Protobuf reports a truncated or foreign file as InvalidProtocolBufferException, an empty one as
            // NullReferenceException, and ML.Tokenizers rejects unsupported model types with ArgumentException.
            throw new ModelFileException(path, $"not a usable SentencePiece model ({e.Message})", e);
        }
        if (tokenizer.Vocabulary.Count == 0)
            throw new ModelFileException(path, "the SentencePiece model has no pieces");
        return new SentencePieceTextTokenizer(tokenizer, addBos, addEos, config.Token("pad_token"));
    }

    public override string Description =>
        $"SentencePiece BPE ({FileName}), {_tokenizer.Vocabulary.Count} pieces, {(AddsBos ? "adds BOS" : "adds no BOS")}{(_addEos ? " and EOS" : "")}";

    public override int VocabSize => _pieces.Length;
    public override int? BosId => _tokenizer.BeginningOfSentenceId >= 0 ? _tokenizer.BeginningOfSentenceId : null;
    public override int? EosId => _tokenizer.EndOfSentenceId >= 0 ? _tokenizer.EndOfSentenceId : null;
    public override bool AddsBos { get; }

    public override int[] Encode(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_removeExtraWhitespaces)
            text = RemoveExtraWhitespaces(text);
        var ids = new List<int>(text.Length / 2 + 2);
        if (addSpecialTokens && AddsBos)
            ids.Add(_tokenizer.BeginningOfSentenceId);
        if (text.Length > 0)
            ids.AddRange(_tokenizer.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false));
        if (addSpecialTokens && _addEos)
            ids.Add(_tokenizer.EndOfSentenceId);
        return [.. ids];
    }

    public override string Decode(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return _tokenizer.Decode(ids.Where(id => !_skippedOnDecode.Contains(id) && Piece(id) is not null));
    }

    public override string TokenText(int id) => Piece(id) ?? UnknownIdText(id);

    protected override ReadOnlySpan<byte> TokenBytes(int id)
    {
        if (_skippedOnDecode.Contains(id) || Piece(id) is not { } piece)
            return [];
        if (_tokenizer.ByteFallback && piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte value))
            return new[] { value };
        return Encoding.UTF8.GetBytes(piece);
    }

    private string? Piece(int id) => id >= 0 && id < _pieces.Length ? _pieces[id] : null;

    /// <summary>
    /// SentencePiece's remove_extra_whitespaces: drops leading and trailing spaces and collapses runs of spaces.
    /// ML.Tokenizers does most of this itself but still encodes an all-space text as a lone "▁".
    /// </summary>
    private static string RemoveExtraWhitespaces(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (char c in text.AsSpan().Trim(' '))
        {
            if (c != ' ' || result[^1] != ' ')
                result.Append(c);
        }
        return result.ToString();
    }
}
