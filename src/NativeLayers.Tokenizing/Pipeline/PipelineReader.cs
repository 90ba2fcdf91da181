using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>Builds a <see cref="TokenizerPipeline"/> from tokenizer.json, naming the file and the field in every error.</summary>
internal sealed class PipelineReader(TokenizerJson json)
{
    public static TokenizerPipeline Read(TokenizerJson json) => new PipelineReader(json).Read();

    private TokenizerPipeline Read()
    {
        var model = Model();
        var added = AddedTokens(model);
        var normalizer = Normalizer(JsonFile.Optional(json.Root, "normalizer"));
        var pre = PreTokenizer(JsonFile.Optional(json.Root, "pre_tokenizer"));
        var post = JsonFile.Optional(json.Root, "post_processor") is { } p ? PostProcessor(p, model, added) : null;
        var decoder = Decoder(JsonFile.Optional(json.Root, "decoder"));
        return new TokenizerPipeline(model, added, normalizer, pre, post, decoder);
    }

    private ModelFileException Problem(string problem) => json.Problem(problem);

    private string Str(JsonElement obj, string name, string where, string? fallback = null) =>
        JsonFile.Optional(obj, name) is { } v ? json.String(v, $"{where}.{name}") : fallback ?? throw Problem($"{where}.{name} is missing");

    private string? OptionalStr(JsonElement obj, string name, string where) =>
        JsonFile.Optional(obj, name) is { } v ? json.String(v, $"{where}.{name}") : null;

    private int Int(JsonElement obj, string name, string where, int fallback) =>
        JsonFile.Optional(obj, name) is { } v ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n >= 0 ? n
            : throw Problem($"{where}.{name} must be a non-negative integer, found {JsonFile.Describe(v)}") : fallback;

    private List<JsonElement> Steps(JsonElement obj, string name, string where) => [.. json.Array(obj, name, where)];

    private UnicodeRegex Regex(string pattern, string where)
    {
        try
        {
            return new UnicodeRegex(pattern);
        }
        catch (ArgumentException e)
        {
            throw Problem($"the {where} regex cannot be used by .NET ({e.Message})");
        }
    }

    /// <summary>A pattern object: {"String": "..."} or {"Regex": "..."}.</summary>
    private (string? Literal, UnicodeRegex? Regex) Pattern(JsonElement obj, string where)
    {
        var pattern = JsonFile.Optional(obj, "pattern");
        if (pattern is { } ps && JsonFile.Optional(ps, "String") is { } literal)
            return (json.String(literal, $"{where}.pattern.String"), null);
        if (pattern is { } pr && JsonFile.Optional(pr, "Regex") is { } regex)
            return (null, Regex(json.String(regex, $"{where}.pattern.Regex"), where));
        throw Problem($"{where} has no pattern.Regex or pattern.String");
    }

    private char SingleChar(JsonElement obj, string name, string where, string fallback)
    {
        string s = Str(obj, name, where, fallback);
        return s.Length == 1 ? s[0] : throw Problem($"{where}.{name} must be a single character, found \"{s}\"");
    }

    private INormalizer? Normalizer(JsonElement? element)
    {
        if (element is not { } n)
            return null;
        string? type = json.TypeOf(n);
        switch (type)
        {
            case "NFC": return new NfcNormalizer();
            case "NFD": return new NfdNormalizer();
            case "NFKC": return new NfkcNormalizer();
            case "NFKD": return new NfkdNormalizer();
            case "Lowercase": return new LowercaseNormalizer();
            case "StripAccents": return new StripAccentsNormalizer();
            case "Strip": return new StripNormalizer(json.Flag(n, "strip_left", true), json.Flag(n, "strip_right", true));
            case "Prepend": return new PrependNormalizer(Str(n, "prepend", "normalizer Prepend"));
            case "Replace":
            {
                var (literal, regex) = Pattern(n, "normalizer Replace");
                return new ReplaceNormalizer(literal, regex, Str(n, "content", "normalizer Replace"));
            }
            case "BertNormalizer":
                return new BertNormalizer(json.Flag(n, "clean_text", true), json.Flag(n, "handle_chinese_chars", true),
                    JsonFile.Optional(n, "strip_accents") is null ? null : json.Flag(n, "strip_accents", false), json.Flag(n, "lowercase", true));
            case "Precompiled":
            {
                var map = JsonFile.Optional(n, "precompiled_charsmap");
                if (map is null)
                    return null;
                try
                {
                    return new PrecompiledNormalizer(Convert.FromBase64String(json.String(map.Value, "normalizer.precompiled_charsmap")));
                }
                catch (FormatException e)
                {
                    throw Problem($"normalizer Precompiled has an unusable precompiled_charsmap ({e.Message})");
                }
            }
            case "Sequence":
                return new SequenceNormalizer([.. Steps(n, "normalizers", "normalizer").Select(s => Normalizer(s)).OfType<INormalizer>()]);
            default:
                throw Problem($"normalizer \"{type ?? "(untyped)"}\" is not supported");
        }
    }

    private IPreTokenizer? PreTokenizer(JsonElement? element)
    {
        if (element is not { } p)
            return null;
        string? type = json.TypeOf(p);
        const string where = "pre_tokenizer";
        switch (type)
        {
            case "ByteLevel": return new ByteLevelPreTokenizer(json.Flag(p, "add_prefix_space", true), json.Flag(p, "use_regex", true));
            case "Whitespace": return new WhitespacePreTokenizer();
            case "WhitespaceSplit": return new WhitespaceSplitPreTokenizer();
            case "BertPreTokenizer": return new BertPreTokenizer();
            case "Metaspace":
                return new MetaspacePreTokenizer(SingleChar(p, "replacement", "pre_tokenizer Metaspace", "\u2581"), Scheme(p, "pre_tokenizer Metaspace"), json.Flag(p, "split", true));
            case "Punctuation": return new PunctuationPreTokenizer(Behavior(p, "pre_tokenizer Punctuation"));
            case "Digits": return new DigitsPreTokenizer(json.Flag(p, "individual_digits", false));
            case "CharDelimiterSplit": return new CharDelimiterSplitPreTokenizer(SingleChar(p, "delimiter", "pre_tokenizer CharDelimiterSplit", " "));
            case "Split":
            {
                var (literal, regex) = Pattern(p, "pre-tokenizer");
                return new SplitPreTokenizer(literal, regex, Behavior(p, "pre_tokenizer Split"), json.Flag(p, "invert", false));
            }
            case "Sequence":
                return new SequencePreTokenizer([.. Steps(p, "pretokenizers", where).Select(s => PreTokenizer(s)).OfType<IPreTokenizer>()]);
            default:
                throw Problem($"pre_tokenizer {type ?? "(untyped)"} is not supported");
        }
    }

    private SplitBehavior Behavior(JsonElement obj, string where)
    {
        string name = Str(obj, "behavior", where, "Isolated");
        try
        {
            return Splitting.ParseBehavior(name);
        }
        catch (FormatException)
        {
            throw Problem($"{where}.behavior \"{name}\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
        }
    }

    private PrependScheme Scheme(JsonElement obj, string where)
    {
        if (OptionalStr(obj, "prepend_scheme", where) is { } scheme)
        {
            return scheme switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                _ => throw Problem($"{where}.prepend_scheme \"{scheme}\" is not one of always, first, never"),
            };
        }
        return json.Flag(obj, "add_prefix_space", true) ? PrependScheme.Always : PrependScheme.Never;
    }

    private ITokenModel Model()
    {
        var m = json.Model;
        try
        {
            switch (json.ModelType)
            {
                case "BPE":
                {
                    var vocab = json.Vocabulary();
                    if (vocab.Count == 0)
                        throw Problem("model.vocab is empty");
                    var merges = Merges();
                    return new BpeModel(vocab, merges, OptionalStr(m, "unk_token", "model"), OptionalStr(m, "continuing_subword_prefix", "model"),
                        OptionalStr(m, "end_of_word_suffix", "model"), json.Flag(m, "fuse_unk", false), json.Flag(m, "byte_fallback", false),
                        json.Flag(m, "ignore_merges", false));
                }
                case "WordPiece":
                {
                    var vocab = json.Vocabulary();
                    if (vocab.Count == 0)
                        throw Problem("model.vocab is empty");
                    return new WordPieceModel(vocab, Str(m, "unk_token", "model", "[UNK]"), Str(m, "continuing_subword_prefix", "model", "##"),
                        Int(m, "max_input_chars_per_word", "model", 100));
                }
                case "Unigram":
                {
                    var vocab = new List<(string, double)>();
                    foreach (var entry in json.Array(m, "vocab", "model"))
                    {
                        if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() != 2 || entry[0].ValueKind != JsonValueKind.String
                            || entry[1].ValueKind != JsonValueKind.Number)
                            throw Problem($"model.vocab entry {vocab.Count} is not a [piece, score] pair: {entry.GetRawText()}");
                        vocab.Add((entry[0].GetString()!, entry[1].GetDouble()));
                    }
                    int? unkId = JsonFile.Optional(m, "unk_id") is { } u ? json.Id(u, "model.unk_id") : null;
                    return new UnigramModel(vocab, unkId, json.Flag(m, "byte_fallback", false));
                }
                default:
                    throw Problem($"tokenizer model type \"{json.ModelType}\" is not supported (supported: BPE, WordPiece, Unigram)");
            }
        }
        catch (FormatException e)
        {
            throw Problem($"cannot build a {json.ModelType} tokenizer from it ({e.Message})");
        }
    }

    /// <summary>model.merges in either form: "a b" strings or ["a", "b"] pairs.</summary>
    private List<(string, string)> Merges()
    {
        var merges = new List<(string, string)>();
        if (JsonFile.Optional(json.Model, "merges") is not { } list)
            return merges;
        if (list.ValueKind != JsonValueKind.Array)
            throw Problem("model.merges must be an array");
        foreach (var merge in list.EnumerateArray())
        {
            (string, string)? pair = null;
            if (merge.ValueKind == JsonValueKind.String && merge.GetString()!.Split(' ') is [var a, var b])
                pair = (a, b);
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge.EnumerateArray().All(part => part.ValueKind == JsonValueKind.String))
                pair = (merge[0].GetString()!, merge[1].GetString()!);
            merges.Add(pair ?? throw Problem($"model.merges entry {merges.Count} is not a pair of tokens: {merge.GetRawText()}"));
        }
        return merges;
    }

    private List<AddedToken> AddedTokens(ITokenModel model)
    {
        var result = new List<AddedToken>();
        if (JsonFile.Optional(json.Root, "added_tokens") is not { } added)
            return result;
        if (added.ValueKind != JsonValueKind.Array)
            throw Problem("added_tokens must be an array");
        foreach (var token in added.EnumerateArray())
        {
            string content = JsonFile.Optional(token, "content") is { } c ? json.String(c, "added_tokens[].content") : throw Problem("an entry of added_tokens has no \"content\"");
            int id = JsonFile.Optional(token, "id") is { } i ? json.Id(i, $"the id of added token \"{content}\"") : throw Problem($"added token \"{content}\" has no \"id\"");
            bool special = json.Flag(token, "special", false);
            // As Hugging Face's AddedVocabulary::add_tokens: a content the model knows keeps the model's id, a new one
            // gets the next id after the vocabulary and the added tokens so far; the id written in the file only
            // matters when it agrees (it does in files the library wrote).
            if (content.Length == 0 || result.Any(t => t.Content == content))
                continue;
            id = model.TokenToId(content) ?? (result.Count == 0 ? model.Size
                : result.Max(t => t.Id) is var max && (max >= model.Size || model.Size == 0) ? max + 1 : model.Size);
            result.Add(new AddedToken(content, id, special, json.Flag(token, "single_word", false), json.Flag(token, "lstrip", false),
                json.Flag(token, "rstrip", false), json.Flag(token, "normalized", !special)));
        }
        return result;
    }

    private int TokenId(string token, ITokenModel model, List<AddedToken> added, string where) =>
        added.FirstOrDefault(t => t.Content == token)?.Id ?? model.TokenToId(token) ?? throw Problem($"{where}: token \"{token}\" is not in the vocabulary");

    private IPostProcessor? PostProcessor(JsonElement p, ITokenModel model, List<AddedToken> added)
    {
        string? type = json.TypeOf(p);
        switch (type)
        {
            case "TemplateProcessing":
            {
                var before = new List<int>();
                var after = new List<int>();
                bool seenSequence = false;
                foreach (var item in json.Array(p, "single", "post_processor"))
                {
                    if (JsonFile.Optional(item, "Sequence") is not null)
                    {
                        seenSequence = true;
                        continue;
                    }
                    if (JsonFile.Optional(item, "SpecialToken") is not { } special)
                        throw Problem("post_processor.single items must be Sequence or SpecialToken");
                    string id = Str(special, "id", "post_processor SpecialToken");
                    List<int> ids;
                    if (JsonFile.Optional(p, "special_tokens") is { } map && JsonFile.Optional(map, id) is { } entry)
                        ids = [.. json.Array(entry, "ids", $"post_processor.special_tokens[\"{id}\"]").Select(e => json.Id(e, $"post_processor.special_tokens[\"{id}\"].ids[]"))];
                    else
                        ids = [TokenId(id, model, added, "post_processor")];
                    (seenSequence ? after : before).AddRange(ids);
                }
                return new TemplatePostProcessor(before, after);
            }
            case "RobertaProcessing" or "BertProcessing":
                return new TemplatePostProcessor([PairId(p, "cls")], [PairId(p, "sep")]);
            case "ByteLevel":
                return new PassThroughPostProcessor();
            case "Sequence":
                return new SequencePostProcessor([.. Steps(p, "processors", "post_processor").Select(s => PostProcessor(s, model, added)).OfType<IPostProcessor>()]);
            default:
                throw Problem($"post_processor \"{type ?? "(untyped)"}\" is not supported");
        }

        int PairId(JsonElement step, string name) =>
            JsonFile.Optional(step, name) is { ValueKind: JsonValueKind.Array } pair && pair.GetArrayLength() == 2
                ? json.Id(pair[1], $"post_processor.{name}[1]")
                : throw Problem($"post_processor.{name} must be a [token, id] pair");
    }

    private IDecoder? Decoder(JsonElement? element)
    {
        if (element is not { } d)
            return null;
        string? type = json.TypeOf(d);
        switch (type)
        {
            case "ByteLevel": return new ByteLevelDecoder();
            case "WordPiece": return new WordPieceDecoder(Str(d, "prefix", "decoder WordPiece", "##"), json.Flag(d, "cleanup", true));
            case "Metaspace": return new MetaspaceDecoder(SingleChar(d, "replacement", "decoder Metaspace", "\u2581"), Scheme(d, "decoder Metaspace"));
            case "ByteFallback": return new ByteFallbackDecoder();
            case "Fuse": return new FuseDecoder();
            case "Strip":
                return new StripDecoder(SingleChar(d, "content", "decoder Strip", " "), Int(d, "start", "decoder Strip", 0), Int(d, "stop", "decoder Strip", 0));
            case "Replace":
            {
                var (literal, regex) = Pattern(d, "decoder Replace");
                return new ReplaceDecoder(literal, regex, Str(d, "content", "decoder Replace"));
            }
            case "BPEDecoder": return new BpeDecoder(Str(d, "suffix", "decoder BPEDecoder", "</w>"));
            case "Sequence":
                return new SequenceDecoder([.. Steps(d, "decoders", "decoder").Select(s => Decoder(s)).OfType<IDecoder>()]);
            default:
                throw Problem($"decoder \"{type ?? "(untyped)"}\" is not supported");
        }
    }
}
