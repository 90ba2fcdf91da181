using System.Text;
using NativeLayers.Loading;
using NativeLayers.Tokenizing.Pipeline;

namespace NativeLayers.Tokenizing;

/// <summary>
/// A Hugging Face tokenizer (tokenizer.json, or a BERT vocab.txt built the way transformers' BertTokenizerFast builds
/// it), run through <see cref="TokenizerPipeline"/> so ids, tokens and decoded text match Hugging Face tokenizers.
/// </summary>
internal sealed class HuggingFaceTextTokenizer : TextTokenizerBase
{
    public const string VocabTxtFileName = "vocab.txt";

    private readonly IPostProcessor? _postProcessor;
    private readonly HashSet<int> _skippedOnDecode;
    private readonly string _description;
    private readonly bool _byteLevel;
    private readonly bool _byteFallback;
    private readonly bool _wordPieceCleanup;

    private HuggingFaceTextTokenizer(TokenizerPipeline pipeline, IPostProcessor? postProcessor, int? bosId, int? eosId, bool addsBos, bool addsEos,
        HashSet<int> skippedOnDecode, Func<HuggingFaceTextTokenizer, string> describe)
    {
        Pipeline = pipeline;
        _postProcessor = postProcessor;
        BosId = bosId;
        EosId = eosId;
        AddsBos = addsBos;
        AddsEos = addsEos;
        _skippedOnDecode = skippedOnDecode;
        var decoders = Flatten(pipeline.Decoder).ToList();
        _byteLevel = decoders.Any(d => d is ByteLevelDecoder);
        _byteFallback = decoders.Any(d => d is ByteFallbackDecoder);
        _wordPieceCleanup = decoders.Any(d => d is WordPieceDecoder);
        _description = describe(this);
    }

    internal TokenizerPipeline Pipeline { get; }

    public bool AddsEos { get; }

    public override string Description => _description;
    public override int VocabSize => Pipeline.Size;
    public override int? BosId { get; }
    public override int? EosId { get; }
    public override bool AddsBos { get; }

    public static HuggingFaceTextTokenizer FromTokenizerJson(TokenizerJson json, TokenizerConfig config)
    {
        var pipeline = PipelineReader.Read(json);
        string model = pipeline.Model.Name;
        bool byteLevel = model == "BPE" && Flatten(pipeline.PreTokenizer).Any(p => p is ByteLevelPreTokenizer);
        bool lowerCases = Flatten(pipeline.Normalizer).Any(n => n is LowercaseNormalizer or BertNormalizer { Lowercases: true });
        var processor = pipeline.PostProcessor;
        if (processor is null && pipeline.Model is WordPieceModel)
            processor = DefaultBertProcessor(pipeline, config);
        return Create(pipeline, processor, config, json.Problem, tok => model == "WordPiece"
            ? WordPieceDescription(tok, TokenizerJson.FileName, lowerCases)
            : $"{(byteLevel ? "byte-level BPE" : model)} ({TokenizerJson.FileName}), {tok.VocabSize} tokens, {BosText(tok)}");
    }

    /// <summary>A BERT vocab.txt: BertNormalizer, BertPreTokenizer, WordPiece, [CLS] $A [SEP], as BertTokenizerFast builds it.</summary>
    public static HuggingFaceTextTokenizer FromVocabTxt(string modelDirectory, TokenizerConfig config)
    {
        string path = Path.Combine(modelDirectory, VocabTxtFileName);
        string text = Encoding.UTF8.GetString(FileBytes.Read(path));
        var lines = text.Split('\n').Select(line => line.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        if (lines.Count == 0)
            throw new ModelFileException(path, "the WordPiece vocabulary is empty");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < lines.Count; id++)
            vocab.TryAdd(lines[id], id);
        bool lowerCase = config.Flag("do_lower_case") ?? true;
        bool? stripAccents = config.Flag("strip_accents");
        bool chinese = config.Flag("tokenize_chinese_chars") ?? true;
        string unknown = config.Token("unk_token") ?? "[UNK]";
        WordPieceModel model;
        try
        {
            model = new WordPieceModel(vocab, unknown, "##", 100);
        }
        catch (FormatException e)
        {
            throw new ModelFileException(path, $"cannot build a WordPiece tokenizer from it ({e.Message})", e);
        }
        var added = new List<AddedToken>();
        foreach (string name in new[] { "pad_token", "unk_token", "cls_token", "sep_token", "mask_token" })
        {
            string token = config.Token(name) ?? DefaultBertToken(name);
            if (vocab.TryGetValue(token, out int id) && !added.Any(a => a.Id == id))
                added.Add(new AddedToken(token, id, Special: true, SingleWord: false, LStrip: false, RStrip: false, Normalized: false));
        }
        added.Sort((a, b) => a.Id.CompareTo(b.Id));
        var pipeline = new TokenizerPipeline(model, added, new BertNormalizer(true, chinese, stripAccents, lowerCase), new BertPreTokenizer(),
            null, new WordPieceDecoder("##", cleanup: true));
        var processor = DefaultBertProcessor(pipeline, config);
        return Create(pipeline, processor, config, problem => new ModelFileException(path, problem),
            tok => WordPieceDescription(tok, VocabTxtFileName, lowerCase));
    }

    private static string DefaultBertToken(string name) => name switch
    {
        "pad_token" => "[PAD]",
        "unk_token" => "[UNK]",
        "cls_token" => "[CLS]",
        "sep_token" => "[SEP]",
        _ => "[MASK]",
    };

    private static TemplatePostProcessor? DefaultBertProcessor(TokenizerPipeline pipeline, TokenizerConfig config)
    {
        int? cls = pipeline.TokenToId(config.Token("cls_token") ?? "[CLS]");
        int? sep = pipeline.TokenToId(config.Token("sep_token") ?? "[SEP]");
        return cls is { } c && sep is { } s ? new TemplatePostProcessor([c], [s]) : null;
    }

    private static string WordPieceDescription(HuggingFaceTextTokenizer tok, string source, bool lowerCases) =>
        $"WordPiece ({source}), {tok.VocabSize} tokens, {(lowerCases ? "lower-cases, " : "")}adds {Name(tok, tok.BosId)}/{Name(tok, tok.EosId)}";

    private static string Name(HuggingFaceTextTokenizer tok, int? id) => id is { } i ? tok.TokenText(i) : "nothing";

    private static string BosText(HuggingFaceTextTokenizer tok) => $"{(tok.AddsBos ? "adds BOS" : "adds no BOS")}{(tok.AddsEos ? " and EOS" : "")}";

    /// <summary>
    /// BOS/EOS come from tokenizer_config.json or else from the post-processor's template; add_bos_token/add_eos_token
    /// in tokenizer_config.json, when given, decide what Encode adds (as transformers' Llama tokenizers rebuild their template).
    /// </summary>
    private static HuggingFaceTextTokenizer Create(TokenizerPipeline pipeline, IPostProcessor? processor, TokenizerConfig config,
        Func<string, ModelFileException> sourceProblem, Func<HuggingFaceTextTokenizer, string> describe)
    {
        var (before, after) = processor?.Around ?? ([], []);
        int? templateBos = before.Count > 0 ? before[0] : null;
        int? templateEos = after.Count > 0 ? after[^1] : null;
        int? bosId = LookUp("bos_token") ?? templateBos;
        int? eosId = LookUp("eos_token") ?? templateEos;
        bool? addBosFlag = config.Flag("add_bos_token");
        bool? addEosFlag = config.Flag("add_eos_token");
        bool addBos = addBosFlag ?? templateBos is not null;
        bool addEos = addEosFlag ?? templateEos is not null;
        if (addBos && bosId is null)
            throw config.Problem("add_bos_token is true but no bos_token is defined");
        if (addEos && eosId is null)
            throw config.Problem("add_eos_token is true but no eos_token is defined");
        if (addBosFlag is not null || addEosFlag is not null)
            processor = new TemplatePostProcessor(addBos ? [bosId!.Value] : [], addEos ? [eosId!.Value] : []);

        var skipped = pipeline.Added.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        foreach (var id in new[] { bosId, eosId, LookUpOptional("unk_token"), LookUpOptional("pad_token") })
        {
            if (id is { } skip)
                skipped.Add(skip);
        }
        return new HuggingFaceTextTokenizer(pipeline, processor, bosId, eosId, addBos, addEos, skipped, describe);

        int? LookUpOptional(string name) => config.Token(name) is { } token ? pipeline.TokenToId(token) : null;

        int? LookUp(string name)
        {
            if (config.Token(name) is not { } token)
                return null;
            return pipeline.TokenToId(token) ?? throw config.Problem($"{name} \"{token}\" is not in the vocabulary of {TokenizerJson.FileName}");
        }
    }

    private static IEnumerable<object> Flatten(object? step) => step switch
    {
        null => [],
        SequenceDecoder s => s.Decoders.SelectMany(Flatten),
        SequenceNormalizer s => s.Steps.SelectMany(Flatten),
        SequencePreTokenizer s => s.Steps.SelectMany(Flatten),
        _ => [step],
    };

    public override int[] Encode(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. Pipeline.Encode(text, addSpecialTokens, _postProcessor)];
    }

    /// <summary>
    /// Hugging Face's decode with skip_special_tokens, also skipping the configured BOS/EOS/unknown/padding ids; for
    /// WordPiece, transformers' clean_up_tokenization then runs over the whole text as BERT tokenizers do by default.
    /// </summary>
    public override string Decode(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        string text = Pipeline.Decode(ids.Where(id => !_skippedOnDecode.Contains(id)), skipSpecialTokens: true);
        return _wordPieceCleanup ? WordPieceDecoder.Cleanup(text) : text;
    }

    /// <summary>Hugging Face's <c>encode(text, add_special_tokens)</c>: the ids and the token strings.</summary>
    public (int[] Ids, string[] Tokens) EncodeWithTokens(string text, bool addSpecialTokens)
    {
        var tokens = new List<string>();
        var ids = Pipeline.Encode(text, addSpecialTokens, tokens, _postProcessor);
        return ([.. ids], [.. tokens]);
    }

    /// <summary>Exactly Hugging Face's <c>decode(ids, skip_special_tokens)</c>.</summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens) => Pipeline.Decode(ids, skipSpecialTokens);

    public override string TokenText(int id) => Pipeline.IdToToken(id) ?? UnknownIdText(id);

    protected override ReadOnlySpan<byte> TokenBytes(int id)
    {
        if (_skippedOnDecode.Contains(id) || Pipeline.IdToToken(id) is not { } token)
            return [];
        if (_byteFallback && ByteFallbackDecoder.TryByte(token, out byte b))
            return new[] { b };
        return _byteLevel ? ByteLevelAlphabet.ToBytes(token) : Encoding.UTF8.GetBytes(token);
    }
}
