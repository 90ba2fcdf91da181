namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>
/// Hugging Face's tokenizer pipeline: added tokens, normalizer, pre-tokenizer, model, post-processor; and back
/// through the decoder. Each step is one of the small types in this folder, built from tokenizer.json by <see cref="PipelineReader"/>.
/// </summary>
internal sealed class TokenizerPipeline
{
    private readonly AddedTokenMatcher _rawTokens;
    private readonly AddedTokenMatcher _normalizedTokens;
    private readonly Dictionary<int, AddedToken> _addedById = [];
    private readonly HashSet<string> _specialContents = new(StringComparer.Ordinal);

    public TokenizerPipeline(ITokenModel model, IReadOnlyList<AddedToken> added, INormalizer? normalizer, IPreTokenizer? preTokenizer,
        IPostProcessor? postProcessor, IDecoder? decoder)
    {
        Model = model;
        Added = added;
        Normalizer = normalizer;
        PreTokenizer = preTokenizer;
        PostProcessor = postProcessor;
        Decoder = decoder;
        foreach (var token in added)
        {
            _addedById[token.Id] = token;
            if (token.Special)
                _specialContents.Add(token.Content);
        }
        _rawTokens = new AddedTokenMatcher(added.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        _normalizedTokens = new AddedTokenMatcher(added.Where(t => t.Normalized).Select(t => (normalizer?.Normalize(t.Content) ?? t.Content, t)));
        Size = Math.Max(model.Size, added.Count == 0 ? 0 : added.Max(t => t.Id) + 1);
    }

    public ITokenModel Model { get; }
    public IReadOnlyList<AddedToken> Added { get; }
    public INormalizer? Normalizer { get; }
    public IPreTokenizer? PreTokenizer { get; }
    public IPostProcessor? PostProcessor { get; }
    public IDecoder? Decoder { get; }

    /// <summary>One more than the largest id of the model and the added tokens.</summary>
    public int Size { get; }

    public List<int> Encode(string text, bool addSpecialTokens, IPostProcessor? postProcessorOverride = null) =>
        Encode(text, addSpecialTokens, null, postProcessorOverride);

    /// <summary>
    /// Encodes text; with <paramref name="tokens"/> also gives each id's token string as Hugging Face reports it (an
    /// added token is the text it matched, including whitespace taken by lstrip/rstrip).
    /// </summary>
    public List<int> Encode(string text, bool addSpecialTokens, List<string>? tokens, IPostProcessor? postProcessorOverride = null)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        var raw = new List<Segment>();
        _rawTokens.Split(new Segment(text, null, true), raw);
        foreach (var segment in raw)
        {
            if (segment.TokenId is { } tokenId)
            {
                ids.Add(tokenId);
                tokens?.Add(segment.Text);
                continue;
            }
            string normalized = Normalizer?.Normalize(segment.Text) ?? segment.Text;
            var parts = new List<Segment>();
            _normalizedTokens.Split(new Segment(normalized, null, segment.AtOrigin), parts);
            foreach (var part in parts)
            {
                if (part.TokenId is { } id)
                {
                    ids.Add(id);
                    tokens?.Add(part.Text);
                    continue;
                }
                List<Piece> pieces = [new Piece(part.Text, part.AtOrigin)];
                if (PreTokenizer is not null)
                    pieces = PreTokenizer.Apply(pieces);
                foreach (var piece in pieces)
                    Model.Tokenize(piece.Text, ids, tokens);
            }
        }
        var processor = postProcessorOverride ?? PostProcessor;
        if (!addSpecialTokens || processor is null)
            return ids;
        var (before, after) = processor.Around;
        var processed = processor.Process(ids);
        if (tokens is not null)
        {
            tokens.InsertRange(0, before.Select(id => IdToToken(id) ?? ""));
            tokens.AddRange(after.Select(id => IdToToken(id) ?? ""));
        }
        return processed;
    }

    /// <summary>The token string of an id: an added token's content, else the model's piece; null for an unknown id.</summary>
    public string? IdToToken(int id) => _addedById.TryGetValue(id, out var added) ? added.Content : Model.IdToToken(id);

    public int? TokenToId(string token)
    {
        foreach (var added in Added)
        {
            if (added.Content == token)
                return added.Id;
        }
        return Model.TokenToId(token);
    }

    public bool IsSpecial(int id) => _addedById.TryGetValue(id, out var added) && added.Special;

    /// <summary>Tokenizer::decode: ids to tokens (special ones dropped when asked), through the decoder, or joined by spaces without one.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (IdToToken(id) is not { } token)
                continue;
            if (skipSpecialTokens && _specialContents.Contains(token))
                continue;
            tokens.Add(token);
        }
        return Decoder is not null ? Decoder.Decode(tokens) : string.Join(' ', tokens);
    }
}
