using System.Text.Json.Nodes;

namespace NativeLayers.Tokenizing.Tests;

public class WordPieceTests
{
    private static readonly string[] Vocab =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##aff", "##able", ",", "!", "the", "'", "s", ".", "Hello"];

    private static ITextTokenizer LoadVocabTxt(string? config = null)
    {
        using var folder = new TempFolder();
        folder.Write("vocab.txt", string.Join("\n", Vocab) + "\n");
        if (config is not null)
            folder.Write("tokenizer_config.json", config);
        return TokenizerLoader.Load(folder.Path);
    }

    [Fact]
    public void VocabTxt_EncodesWithClsAndSep()
    {
        var tok = LoadVocabTxt();
        Assert.Equal([2, 5, 10, 6, 11, 3], tok.Encode("Hello, World!"));
        Assert.Equal([5, 10, 6, 11], tok.Encode("Hello, World!", addSpecialTokens: false));
        Assert.Equal([2, 7, 8, 9, 3], tok.Encode("unaffable"));
        Assert.Equal([2, 1, 5, 3], tok.Encode("xyz hello"));
        Assert.Equal([2, 3], tok.Encode(""));
    }

    [Fact]
    public void VocabTxt_Properties()
    {
        var tok = LoadVocabTxt();
        Assert.Equal(17, tok.VocabSize);
        Assert.Equal(2, tok.BosId);
        Assert.Equal(3, tok.EosId);
        Assert.True(tok.AddsBos);
        Assert.Equal("WordPiece (vocab.txt), 17 tokens, lower-cases, adds [CLS]/[SEP]", tok.Description);
        Assert.Equal("##aff", tok.TokenText(8));
    }

    [Fact]
    public void DoLowerCaseFalse_KeepsCase()
    {
        var tok = LoadVocabTxt("""{ "do_lower_case": false }""");
        Assert.Equal([2, 16, 5, 3], tok.Encode("Hello hello"));
        Assert.Equal("WordPiece (vocab.txt), 17 tokens, adds [CLS]/[SEP]", tok.Description);
    }

    [Fact]
    public void Decode_JoinsPiecesAndSkipsSpecialTokens()
    {
        var tok = LoadVocabTxt();
        Assert.Equal("hello, world!", tok.Decode(tok.Encode("Hello, World!")));
        Assert.Equal("unaffable the world's.", tok.Decode(tok.Encode("unaffable the world's.")));
        Assert.Equal("hello", tok.Decode([2, 1, 5, 0, 3]));
        Assert.Equal(" world", tok.DecodeContinuation([2, 5], [6]));
        Assert.Equal("able", tok.DecodeContinuation([7, 8], [9]));
    }

    [Fact]
    public void WordPieceTokenizerJson_IsLoaded()
    {
        var vocab = new JsonObject();
        for (int i = 0; i < Vocab.Length; i++)
            vocab[Vocab[i]] = i;
        var json = new JsonObject
        {
            ["normalizer"] = new JsonObject { ["type"] = "BertNormalizer", ["lowercase"] = true },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece",
                ["unk_token"] = "[UNK]",
                ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = 100,
                ["vocab"] = vocab,
            },
        };
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json.ToJsonString());
        var tok = TokenizerLoader.Load(folder.Path);
        Assert.Equal([2, 5, 10, 6, 11, 3], tok.Encode("Hello, World!"));
        Assert.Equal("WordPiece (tokenizer.json), 17 tokens, lower-cases, adds [CLS]/[SEP]", tok.Description);
    }
}
