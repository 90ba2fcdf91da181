using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>
/// A byte-level BPE tokenizer.json (GPT-2, GPT-NeoX/Pythia, Qwen2, Llama 3), mapped onto ML.Tokenizers' BpeTokenizer.
/// </summary>
internal sealed class ByteLevelBpeTextTokenizer : TextTokenizerBase
{
    /// <summary>GPT-2's pre-tokenizer regex, which a ByteLevel pre-tokenizer with use_regex applies.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly BpeTokenizer _tokenizer;
    private readonly Dictionary<int, string> _tokens;
    private readonly HashSet<int> _addedIds;
    private readonly HashSet<int> _skippedOnDecode;
    private readonly bool _addPrefixSpace;
    private readonly bool _addEos;

    private ByteLevelBpeTextTokenizer(
        BpeTokenizer tokenizer, Dictionary<int, string> tokens, HashSet<int> addedIds, HashSet<int> skippedOnDecode,
        bool addPrefixSpace, int? bosId, int? eosId, bool addBos, bool addEos)
    {
        _tokenizer = tokenizer;
        _tokens = tokens;
        _addedIds = addedIds;
        _skippedOnDecode = skippedOnDecode;
        _addPrefixSpace = addPrefixSpace;
        BosId = bosId;
        EosId = eosId;
        AddsBos = addBos;
        _addEos = addEos;
        VocabSize = tokens.Keys.Max() + 1;
    }

    public static ByteLevelBpeTextTokenizer FromTokenizerJson(TokenizerJson json, TokenizerConfig config)
    {
        CheckNormalizer(json);
        var (pattern, addPrefixSpace) = ReadPreTokenizer(json);
        var vocab = json.Vocabulary();
        var added = json.AddedTokens();
        if (vocab.Count == 0)
            throw json.Problem("model.vocab is empty");

        var specialTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in added)
            specialTokens[token.Content] = token.Id;

        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.Compiled);
        }
        catch (ArgumentException e)
        {
            throw json.Problem($"the pre-tokenizer regex cannot be used by .NET ({e.Message})");
        }

        BpeTokenizer tokenizer;
        try
        {
            tokenizer = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = ReadMerges(json),
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(regex, specialTokens.Count > 0 ? specialTokens : null),
                SpecialTokens = specialTokens.Count > 0 ? specialTokens : null,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw json.Problem($"cannot build a BPE tokenizer from it ({e.Message})");
        }

        var tokens = new Dictionary<int, string>();
        foreach (var (text, id) in vocab)
            tokens[id] = text;
        foreach (var token in added)
            tokens[token.Id] = token.Content;

        var (templateBos, templateEos) = ReadPostProcessor(json);
        int? bosId = LookUp(config.Token("bos_token"), templateBos, "bos_token");
        int? eosId = LookUp(config.Token("eos_token"), templateEos, "eos_token");
        bool addBos = config.Flag("add_bos_token") ?? templateBos is not null;
        bool addEos = config.Flag("add_eos_token") ?? templateEos is not null;
        if (addBos && bosId is null)
            throw config.Problem("add_bos_token is true but no bos_token is defined");
        if (addEos && eosId is null)
            throw config.Problem("add_eos_token is true but no eos_token is defined");

        var skipped = added.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        foreach (var id in new[] { bosId, eosId, LookUpOptional(config.Token("unk_token")), LookUpOptional(config.Token("pad_token")) })
        {
            if (id is { } skip)
                skipped.Add(skip);
        }
        var addedIds = added.Select(t => t.Id).ToHashSet();
        return new ByteLevelBpeTextTokenizer(tokenizer, tokens, addedIds, skipped, addPrefixSpace, bosId, eosId, addBos, addEos);

        int? LookUpOptional(string? token) =>
            token is not null && (specialTokens.TryGetValue(token, out int id) || vocab.TryGetValue(token, out id)) ? id : null;

        int? LookUp(string? configured, string? fromTemplate, string name)
        {
            string? token = configured ?? fromTemplate;
            if (token is null)
                return null;
            string problem = $"{name} \"{token}\" is not in the vocabulary of {TokenizerJson.FileName}";
            return LookUpOptional(token) ?? throw (configured is not null ? config.Problem(problem) : json.Problem(problem));
        }
    }

    public override string Description =>
        $"byte-level BPE ({TokenizerJson.FileName}), {VocabSize} tokens, {(AddsBos ? "adds BOS" : "adds no BOS")}{(_addEos ? " and EOS" : "")}";

    public override int VocabSize { get; }
    public override int? BosId { get; }
    public override int? EosId { get; }
    public override bool AddsBos { get; }

    public override int[] Encode(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_addPrefixSpace && text.Length > 0 && text[0] != ' ')
            text = " " + text;
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && AddsBos)
            ids.Add(BosId!.Value);
        ids.AddRange(_tokenizer.EncodeToIds(text));
        if (addSpecialTokens && _addEos)
            ids.Add(EosId!.Value);
        return [.. ids];
    }

    public override string Decode(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return _tokenizer.Decode(ids.Where(id => !_skippedOnDecode.Contains(id) && _tokens.ContainsKey(id)), considerSpecialTokens: true);
    }

    public override string TokenText(int id) => _tokens.TryGetValue(id, out var text) ? text : UnknownIdText(id);

    protected override ReadOnlySpan<byte> TokenBytes(int id)
    {
        if (_skippedOnDecode.Contains(id) || !_tokens.TryGetValue(id, out var text))
            return [];
        return _addedIds.Contains(id) ? Encoding.UTF8.GetBytes(text) : ByteLevelAlphabet.ToBytes(text);
    }

    private static void CheckNormalizer(TokenizerJson json)
    {
        var normalizer = JsonFile.Optional(json.Root, "normalizer");
        switch (json.TypeOf(normalizer))
        {
            case null:
            // NFC composes characters; with InvariantGlobalization .NET cannot normalize, so text is used as given
            // (identical for text that is already composed, which nearly all text is).
            case "NFC":
                return;
            case "Sequence" when !json.Array(normalizer!.Value, "normalizers", "normalizer").Any():
                return;
            case var type:
                throw json.Problem($"normalizer \"{type}\" is not supported for byte-level BPE");
        }
    }

    /// <summary>The pre-tokenizer's split regex and its ByteLevel add_prefix_space setting.</summary>
    private static (string Pattern, bool AddPrefixSpace) ReadPreTokenizer(TokenizerJson json)
    {
        var pre = JsonFile.Optional(json.Root, "pre_tokenizer");
        string? type = json.TypeOf(pre);
        var steps = type == "Sequence" ? json.Array(pre!.Value, "pretokenizers", "pre_tokenizer").ToList() : pre is { } p ? [p] : [];
        var byteLevel = steps.Where(s => json.TypeOf(s) == "ByteLevel").ToList();
        var splits = steps.Where(s => json.TypeOf(s) == "Split").ToList();
        if (byteLevel.Count != 1 || steps.Count != byteLevel.Count + splits.Count)
            throw json.Problem($"pre_tokenizer {Describe(json, steps)} is not supported: only byte-level BPE "
                + "(a ByteLevel pre-tokenizer, optionally after one regex Split) can be loaded from tokenizer.json; "
                + "for SentencePiece models use tokenizer.model");
        bool useRegex = json.Flag(byteLevel[0], "use_regex", true);
        bool addPrefixSpace = json.Flag(byteLevel[0], "add_prefix_space", false);
        if (splits.Count == 0 && useRegex)
            return (Gpt2Pattern, addPrefixSpace);
        if (splits.Count != 1 || useRegex)
            throw json.Problem($"pre_tokenizer {Describe(json, steps)} is not supported: expected ByteLevel(use_regex) or one Split followed by ByteLevel without regex");

        var split = splits[0];
        string behavior = JsonFile.Optional(split, "behavior") is { } bh ? json.String(bh, "Split.behavior") : "Isolated";
        if (behavior != "Isolated" || json.Flag(split, "invert", false))
            throw json.Problem($"pre_tokenizer Split with behavior \"{behavior}\" (or invert) is not supported; only Isolated splits are");
        var pattern = JsonFile.Optional(split, "pattern");
        if (pattern is { } pt && JsonFile.Optional(pt, "Regex") is { } regex)
            return (json.String(regex, "Split.pattern.Regex"), addPrefixSpace);
        if (pattern is { } ps && JsonFile.Optional(ps, "String") is { } literal)
            return (Regex.Escape(json.String(literal, "Split.pattern.String")), addPrefixSpace);
        throw json.Problem("pre_tokenizer Split has no pattern.Regex or pattern.String");
    }

    private static string Describe(TokenizerJson json, List<JsonElement> steps) =>
        steps.Count == 0 ? "(none)" : string.Join(" + ", steps.Select(s => json.TypeOf(s) ?? "(untyped)"));

    /// <summary>model.merges in either form: "a b" strings or ["a", "b"] pairs.</summary>
    private static List<string> ReadMerges(TokenizerJson json)
    {
        var merges = new List<string>();
        if (JsonFile.Optional(json.Model, "merges") is not { } list)
            return merges;
        if (list.ValueKind != JsonValueKind.Array)
            throw json.Problem("model.merges must be an array");
        foreach (var merge in list.EnumerateArray())
        {
            string? text = merge.ValueKind switch
            {
                JsonValueKind.String when merge.GetString()!.Split(' ').Length == 2 => merge.GetString(),
                JsonValueKind.Array when merge.GetArrayLength() == 2
                    && merge.EnumerateArray().All(part => part.ValueKind == JsonValueKind.String && !part.GetString()!.Contains(' '))
                    => $"{merge[0].GetString()} {merge[1].GetString()}",
                _ => null,
            };
            merges.Add(text ?? throw json.Problem($"model.merges entry {merges.Count} is not a pair of tokens: {merge.GetRawText()}"));
        }
        return merges;
    }

    /// <summary>The special tokens the post-processor puts before and after a single sequence, if any.</summary>
    private static (string? Bos, string? Eos) ReadPostProcessor(TokenizerJson json)
    {
        var processor = JsonFile.Optional(json.Root, "post_processor");
        var processors = json.TypeOf(processor) == "Sequence"
            ? json.Array(processor!.Value, "processors", "post_processor").ToList()
            : processor is { } single ? [single] : [];
        foreach (var step in processors)
        {
            switch (json.TypeOf(step))
            {
                case "TemplateProcessing":
                    var items = json.Array(step, "single", "post_processor").ToList();
                    string? first = items.Count > 0 ? TemplateSpecial(items[0]) : null;
                    string? last = items.Count > 1 ? TemplateSpecial(items[^1]) : null;
                    return (first, last);
                case "RobertaProcessing" or "BertProcessing":
                    return (PairToken(step, "cls"), PairToken(step, "sep"));
            }
        }
        return (null, null);

        string? TemplateSpecial(JsonElement item) =>
            JsonFile.Optional(item, "SpecialToken") is { } special && JsonFile.Optional(special, "id") is { } id
                ? json.String(id, "post_processor SpecialToken.id")
                : null;

        string? PairToken(JsonElement step, string name) =>
            JsonFile.Optional(step, name) is { ValueKind: JsonValueKind.Array } pair && pair.GetArrayLength() > 0
                ? json.String(pair[0], $"post_processor.{name}[0]")
                : null;
    }
}
