using System.Text.Json;
using System.Text.Json.Nodes;

namespace NativeLayers.Tokenizing.Tests;

public class Gpt2TokenizerTests
{
    private const string EndOfText = "<|endoftext|>";

    private static readonly Lazy<ITextTokenizer> Gpt2 = new(() => TokenizerLoader.Load(TestData.Gpt2));

    private static JsonElement GoldenCase(int index) =>
        TestData.ReadJson(Path.Combine(TestData.Gpt2, "golden.json")).GetProperty("cases")[index];

    public static TheoryData<int> GoldenCases() =>
        [.. Enumerable.Range(0, TestData.ReadJson(Path.Combine(TestData.Gpt2, "golden.json")).GetProperty("cases").GetArrayLength())];

    [SkippableFact]
    public void Golden_HasThirtyCases() => Assert.Equal(30, GoldenCases().Count);

    [SkippableTheory]
    [MemberData(nameof(GoldenCases))]
    public void Encode_MatchesReference(int index)
    {
        var c = GoldenCase(index);
        string text = c.GetProperty("text").GetString()!;
        int[] expected = TestData.Ids(c.GetProperty("ids"));
        if (text.Contains(EndOfText))
        {
            // The reference encodes <|endoftext|> as plain text; Hugging Face (and we) treat it as the special token 50256.
            int[] plain = Gpt2.Value.Encode(EndOfText, addSpecialTokens: false);
            Assert.Equal([50256], plain);
            Assert.Equal([50256, 318, 8631, 2420, 994], Gpt2.Value.Encode(text));
            return;
        }
        Assert.Equal(expected, Gpt2.Value.Encode(text));
        Assert.Equal(expected, Gpt2.Value.Encode(text, addSpecialTokens: false));
    }

    [SkippableTheory]
    [MemberData(nameof(GoldenCases))]
    public void Decode_GivesBackTheExactText(int index)
    {
        var c = GoldenCase(index);
        Assert.Equal(c.GetProperty("text").GetString(), Gpt2.Value.Decode(TestData.Ids(c.GetProperty("ids"))));
    }

    [SkippableTheory]
    [MemberData(nameof(GoldenCases))]
    public void DecodeContinuation_TokenByToken_GivesBackTheText(int index)
    {
        var c = GoldenCase(index);
        var ids = new List<int>();
        string streamed = "";
        foreach (int id in TestData.Ids(c.GetProperty("ids")))
        {
            streamed += Gpt2.Value.DecodeContinuation(ids, [id]);
            ids.Add(id);
        }
        Assert.Equal(c.GetProperty("text").GetString(), streamed);
    }

    [SkippableFact]
    public void Properties_ComeFromTokenizerJsonAndConfig()
    {
        var tok = Gpt2.Value;
        Assert.Equal(50257, tok.VocabSize);
        Assert.Equal(50256, tok.BosId);
        Assert.Equal(50256, tok.EosId);
        Assert.False(tok.AddsBos);
        Assert.Equal("byte-level BPE (tokenizer.json), 50257 tokens, adds no BOS", tok.Description);
        Assert.Equal("ĠHello", tok.TokenText(18435));
        Assert.Equal(EndOfText, tok.TokenText(50256));
    }

    [SkippableFact]
    public void Decode_SkipsTheSpecialToken()
    {
        Assert.Equal("Hello world", Gpt2.Value.Decode([15496, 50256, 995, 50256]));
        Assert.Equal(" is plain text here", Gpt2.Value.Decode(Gpt2.Value.Encode("<|endoftext|> is plain text here")));
    }

    [SkippableFact]
    public void DecodeContinuation_HoldsBackPartialCharacters()
    {
        // 日 is 33768 (bytes E6 97) + 98 (byte A5).
        Assert.Equal("", Gpt2.Value.DecodeContinuation([], [33768]));
        Assert.Equal("日", Gpt2.Value.DecodeContinuation([33768], [98]));
        Assert.Equal("日本", Gpt2.Value.DecodeContinuation([], [33768, 98, 17312, 105]));
    }

    [SkippableFact]
    public void FolderWithOnlyTokenizerJson_Works()
    {
        using var folder = new TempFolder();
        File.Copy(Path.Combine(TestData.Gpt2, "tokenizer.json"), Path.Combine(folder.Path, "tokenizer.json"));
        Assert.True(TokenizerLoader.HasTokenizer(folder.Path));
        var tok = TokenizerLoader.Load(folder.Path);
        Assert.Equal([15496, 995], tok.Encode("Hello world"));
        Assert.Null(tok.BosId);
        Assert.False(tok.AddsBos);
        Assert.Equal("Hello world", tok.Decode([15496, 50256, 995]));
    }
}

/// <summary>Small hand-made tokenizer.json files in the Llama 3 / Qwen2 layouts.</summary>
public class TokenizerJsonMappingTests
{
    private const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>GPT-2's byte alphabet: byte b is written as this character; here token id b is that single byte.</summary>
    private static string ByteChar(int b)
    {
        int shifted = 0;
        for (int i = 0; i < 256; i++)
        {
            bool printable = i is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            if (i == b)
                return ((char)(printable ? i : 256 + shifted)).ToString();
            if (!printable)
                shifted++;
        }
        throw new ArgumentOutOfRangeException(nameof(b));
    }

    /// <summary>ids: 0-255 bytes, 256 "hi", 257 "Ġw", 258 "or", 259 "Ġwor", 260 "ld"; added 261 BOS, 262 EOS, 263 "&lt;tool&gt;".</summary>
    internal static JsonObject Llama3Style(bool arrayMerges = true)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++)
            vocab[ByteChar(b)] = b;
        string[] merged = ["hi", "Ġw", "or", "Ġwor", "ld"];
        for (int i = 0; i < merged.Length; i++)
            vocab[merged[i]] = 256 + i;
        (string, string)[] merges = [("h", "i"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"), ("l", "d")];
        var mergeArray = new JsonArray([.. merges.Select(m => arrayMerges ? (JsonNode)new JsonArray(m.Item1, m.Item2) : $"{m.Item1} {m.Item2}")]);
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 261, ["content"] = "<|begin_of_text|>", ["special"] = true },
                new JsonObject { ["id"] = 262, ["content"] = "<|end_of_text|>", ["special"] = true },
                new JsonObject { ["id"] = 263, ["content"] = "<tool>", ["special"] = false }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Llama3Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["processors"] = new JsonArray(
                    new JsonObject { ["type"] = "ByteLevel", ["use_regex"] = true },
                    new JsonObject
                    {
                        ["type"] = "TemplateProcessing",
                        ["single"] = new JsonArray(
                            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                    }),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["ignore_merges"] = true,
                ["vocab"] = vocab,
                ["merges"] = mergeArray,
            },
        };
    }

    private static ITextTokenizer Load(JsonObject tokenizerJson, string? config = null)
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", tokenizerJson.ToJsonString());
        if (config is not null)
            folder.Write("tokenizer_config.json", config);
        return TokenizerLoader.Load(folder.Path);
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void SplitPlusByteLevel_WithBothMergeForms(bool arrayMerges)
    {
        var tok = Load(Llama3Style(arrayMerges));
        Assert.Equal([261, 256, 259, 260], tok.Encode("hi world"));
        Assert.Equal([256, 259, 260], tok.Encode("hi world", addSpecialTokens: false));
        Assert.Equal("hi world", tok.Decode([261, 256, 259, 260, 262]));
        Assert.Equal("Ġwor", tok.TokenText(259));
        Assert.Equal(264, tok.VocabSize);
    }

    [SkippableFact]
    public void TemplatePostProcessor_GivesBos()
    {
        var tok = Load(Llama3Style());
        Assert.True(tok.AddsBos);
        Assert.Equal(261, tok.BosId);
        Assert.Null(tok.EosId);
        Assert.Equal("byte-level BPE (tokenizer.json), 264 tokens, adds BOS", tok.Description);
    }

    [SkippableFact]
    public void ConfigTokens_AsObjectsAndStrings_AndAddBosOverride()
    {
        var tok = Load(Llama3Style(), """
            { "add_bos_token": false, "bos_token": { "content": "<|begin_of_text|>", "special": true }, "eos_token": "<|end_of_text|>" }
            """);
        Assert.False(tok.AddsBos);
        Assert.Equal(261, tok.BosId);
        Assert.Equal(262, tok.EosId);
        Assert.Equal([256, 259, 260], tok.Encode("hi world"));
    }

    [SkippableFact]
    public void AddEosToken_AppendsEos()
    {
        var tok = Load(Llama3Style(), """{ "eos_token": "<|end_of_text|>", "add_eos_token": true }""");
        Assert.Equal([261, 256, 262], tok.Encode("hi"));
    }

    [SkippableFact]
    public void AddedTokens_AreMatchedInText_AndOnlySpecialOnesSkippedOnDecode()
    {
        var tok = Load(Llama3Style());
        int[] ids = tok.Encode("hi<tool> world<|end_of_text|>", addSpecialTokens: false);
        Assert.Equal([256, 263, 259, 260, 262], ids);
        Assert.Equal("hi<tool> world", tok.Decode(ids));
    }

    [SkippableFact]
    public void BytesOutsideTheMerges_FallBackToSingleByteTokens()
    {
        var tok = Load(Llama3Style());
        Assert.Equal([0xC3, 0xA9], tok.Encode("é", addSpecialTokens: false));
        Assert.Equal("é", tok.Decode([0xC3, 0xA9]));
        Assert.Equal("", tok.DecodeContinuation([261], [0xC3]));
        Assert.Equal("é", tok.DecodeContinuation([261, 0xC3], [0xA9]));
    }

    [SkippableFact]
    public void ByteLevelAddPrefixSpace_IsHonoured()
    {
        var json = Llama3Style();
        json["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["use_regex"] = true };
        var tok = Load(json);
        Assert.Equal([261, 259, 260], tok.Encode("world"));
    }
}
