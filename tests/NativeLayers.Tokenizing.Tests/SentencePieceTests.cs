using System.Text.Json;

namespace NativeLayers.Tokenizing.Tests;

public class SentencePieceTests
{
    private static readonly Lazy<ITextTokenizer> Stories = new(() => TokenizerLoader.Load(TestData.Stories260k));

    private static JsonElement TokenizerCase(int index) =>
        TestData.ReadJson(TestData.Stories260kGolden("tokenizer_cases.json")).GetProperty("cases")[index];

    private static JsonElement GreedyCase(int index) =>
        TestData.ReadJson(TestData.Stories260kGolden("greedy.json")).GetProperty("cases")[index];

    // Without ../shared one row (which skips) stands for the cases.
    public static TheoryData<int> TokenizerCases() => !ReferenceData.SharedAvailable ? [0] :
        [.. Enumerable.Range(0, TestData.ReadJson(TestData.Stories260kGolden("tokenizer_cases.json")).GetProperty("cases").GetArrayLength())];

    public static TheoryData<int> GreedyCases() => !ReferenceData.SharedAvailable ? [0] :
        [.. Enumerable.Range(0, TestData.ReadJson(TestData.Stories260kGolden("greedy.json")).GetProperty("cases").GetArrayLength())];

    [SkippableFact]
    public void Properties_ComeFromTheModelAndConfig()
    {
        var tok = Stories.Value;
        Assert.Equal(512, tok.VocabSize);
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.True(tok.AddsBos);
        Assert.Equal("SentencePiece BPE (tokenizer.model), 512 pieces, adds BOS", tok.Description);
        Assert.Equal("▁Once", tok.TokenText(403));
        Assert.Equal("<0x0A>", tok.TokenText(13));
        Assert.Equal("<s>", tok.TokenText(1));
        Assert.Equal("<id 9999?>", tok.TokenText(9999));
    }

    [SkippableTheory]
    [MemberData(nameof(TokenizerCases))]
    public void Encode_MatchesSentencePiece(int index)
    {
        var c = TokenizerCase(index);
        string text = c.GetProperty("text").GetString()!;
        int[] expected = TestData.Ids(c.GetProperty("sentencepiece_ids"));
        Assert.Equal(expected, Stories.Value.Encode(text));
        Assert.Equal(expected[1..], Stories.Value.Encode(text, addSpecialTokens: false));
    }

    [SkippableTheory]
    [MemberData(nameof(TokenizerCases))]
    public void Decode_MatchesSentencePiece(int index)
    {
        var c = TokenizerCase(index);
        Assert.Equal(c.GetProperty("decoded").GetString(), Stories.Value.Decode(TestData.Ids(c.GetProperty("sentencepiece_ids"))));
    }

    [SkippableTheory]
    [MemberData(nameof(GreedyCases))]
    public void GreedyGolden_PromptEncodesToInputIds(int index)
    {
        var c = GreedyCase(index);
        Assert.Equal(TestData.Ids(c.GetProperty("input_ids")), Stories.Value.Encode(c.GetProperty("prompt").GetString()!));
    }

    [SkippableTheory]
    [MemberData(nameof(GreedyCases))]
    public void GreedyGolden_DecodesLikeSentencePiece(int index)
    {
        var c = GreedyCase(index);
        int[] input = TestData.Ids(c.GetProperty("input_ids"));
        int[] generated = TestData.Ids(c.GetProperty("generated_ids"));
        var tok = Stories.Value;
        Assert.Equal(c.GetProperty("generated_text").GetString(), tok.Decode(generated));
        Assert.Equal(c.GetProperty("full_text").GetString(), tok.Decode([.. input, .. generated]));
        Assert.Equal(c.GetProperty("continuation_text").GetString(), tok.DecodeContinuation(input, generated));
        for (int i = 0; i < generated.Length; i++)
            Assert.Equal(c.GetProperty("generated_pieces")[i].GetString(), tok.TokenText(generated[i]));
    }

    [SkippableTheory]
    [MemberData(nameof(GreedyCases))]
    public void DecodeContinuation_TokenByToken_AddsUpToTheContinuation(int index)
    {
        var c = GreedyCase(index);
        var ids = TestData.Ids(c.GetProperty("input_ids")).ToList();
        string streamed = "";
        foreach (int id in TestData.Ids(c.GetProperty("generated_ids")))
        {
            streamed += Stories.Value.DecodeContinuation(ids, [id]);
            ids.Add(id);
        }
        Assert.Equal(c.GetProperty("continuation_text").GetString(), streamed);
    }

    [SkippableFact]
    public void DecodeContinuation_HoldsBackAnUnfinishedByteSequence()
    {
        var tok = Stories.Value;
        int[] prompt = tok.Encode("Mia played with her friend Zo");
        // "ë" is the two byte tokens <0xC3> <0xAB>; the first alone must not print a replacement character.
        Assert.Equal("", tok.DecodeContinuation(prompt, [198]));
        Assert.Equal("ë", tok.DecodeContinuation([.. prompt, 198], [174]));
        Assert.Equal("ë.", tok.DecodeContinuation(prompt, [198, 174, 426]));
        // A lone lead byte followed by ordinary text is invalid UTF-8 and does show up.
        Assert.Equal("\uFFFD.", tok.DecodeContinuation([.. prompt, 198], [426]));
    }

    [SkippableFact]
    public void Decode_SkipsSpecialAndUnknownIds()
    {
        var tok = Stories.Value;
        Assert.Equal("Once upon", tok.Decode([1, 403, 0, 2, 407, 100000, -5]));
        Assert.Equal("", tok.Decode([]));
    }

    [SkippableFact]
    public void AllSpaceText_EncodesToBosOnly()
    {
        Assert.Equal([1], Stories.Value.Encode("    "));
        Assert.Equal([], Stories.Value.Encode("  ", addSpecialTokens: false));
    }

    [SkippableTheory]
    [InlineData("stories260k-f16")]
    [InlineData("stories260k-bf16")]
    public void SiblingFolders_HaveTheSameTokenizer(string folder)
    {
        var tok = TokenizerLoader.Load(TestData.Shared("models", folder));
        Assert.Equal(Stories.Value.Description, tok.Description);
        for (int i = 0; i < GreedyCases().Count; i++)
        {
            var c = TestData.ReadJson(Path.Combine(TestData.Shared("models", folder), "golden", "greedy.json")).GetProperty("cases")[i];
            Assert.Equal(TestData.Ids(c.GetProperty("input_ids")), tok.Encode(c.GetProperty("prompt").GetString()!));
            Assert.Equal(c.GetProperty("full_text").GetString(),
                tok.Decode([.. TestData.Ids(c.GetProperty("input_ids")), .. TestData.Ids(c.GetProperty("generated_ids"))]));
        }
    }

    [SkippableFact]
    public void ConfigFlags_ControlBosAndEos()
    {
        using var folder = new TempFolder();
        File.Copy(Path.Combine(TestData.Stories260k, "tokenizer.model"), Path.Combine(folder.Path, "tokenizer.model"));
        folder.Write("tokenizer_config.json", """{ "add_bos_token": false, "add_eos_token": true }""");
        var tok = TokenizerLoader.Load(folder.Path);
        Assert.False(tok.AddsBos);
        Assert.Equal([403, 407, 261, 378, 2], tok.Encode("Once upon a time"));
        Assert.Equal([403, 407, 261, 378], tok.Encode("Once upon a time", addSpecialTokens: false));
        Assert.Equal("SentencePiece BPE (tokenizer.model), 512 pieces, adds no BOS and EOS", tok.Description);
    }

    [SkippableFact]
    public void ConfigWithByteOrderMark_IsRead()
    {
        using var folder = new TempFolder();
        File.Copy(Path.Combine(TestData.Stories260k, "tokenizer.model"), Path.Combine(folder.Path, "tokenizer.model"));
        folder.Write("tokenizer_config.json", [.. "\uFEFF"u8, .. "{ \"add_bos_token\": false }"u8]);
        Assert.False(TokenizerLoader.Load(folder.Path).AddsBos);
    }

    [SkippableFact]
    public void WithoutConfig_DefaultsToBosOnly()
    {
        using var folder = new TempFolder();
        File.Copy(Path.Combine(TestData.Stories260k, "tokenizer.model"), Path.Combine(folder.Path, "tokenizer.model"));
        var tok = TokenizerLoader.Load(folder.Path);
        Assert.True(tok.AddsBos);
        Assert.Equal([1, 403, 407, 261, 378], tok.Encode("Once upon a time"));
    }
}
