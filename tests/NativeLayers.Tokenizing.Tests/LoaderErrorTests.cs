using System.Text.Json.Nodes;
using NativeLayers.Loading;

namespace NativeLayers.Tokenizing.Tests;

public class LoaderErrorTests
{
    private static ModelFileException LoadFails(string folder) =>
        Assert.Throws<ModelFileException>(() => TokenizerLoader.Load(folder));

    private static ModelFileException LoadFails(TempFolder folder, string file, string problemPart)
    {
        var e = LoadFails(folder.Path);
        Assert.Equal(Path.Combine(folder.Path, file), e.FilePath);
        Assert.StartsWith(Path.Combine(folder.Path, file) + ": ", e.Message);
        Assert.Contains(problemPart, e.Problem);
        return e;
    }

    [SkippableFact]
    public void MissingFolder()
    {
        string missing = Path.Combine(Path.GetTempPath(), "nl-no-such-folder-" + Guid.NewGuid().ToString("N"));
        var e = LoadFails(missing);
        Assert.Equal(missing, e.FilePath);
        Assert.Contains("not found", e.Problem);
        Assert.False(TokenizerLoader.HasTokenizer(missing));
    }

    [SkippableFact]
    public void FolderWithoutTokenizer()
    {
        using var folder = new TempFolder();
        folder.Write("config.json", "{}");
        Assert.False(TokenizerLoader.HasTokenizer(folder.Path));
        var e = LoadFails(folder.Path);
        Assert.Equal(folder.Path, e.FilePath);
        Assert.Contains("no tokenizer.model, tokenizer.json or vocab.txt", e.Problem);
    }

    [SkippableFact]
    public void GarbageTokenizerModel()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.model", "this is not a protobuf file\n"u8.ToArray());
        LoadFails(folder, "tokenizer.model", "not a usable SentencePiece model");
    }

    [SkippableFact]
    public void TruncatedTokenizerModel()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.model", File.ReadAllBytes(Path.Combine(TestData.Stories260k, "tokenizer.model"))[..3000]);
        LoadFails(folder, "tokenizer.model", "not a usable SentencePiece model");
    }

    [SkippableFact]
    public void EmptyTokenizerModel()
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.model", Array.Empty<byte>());
        LoadFails(folder, "tokenizer.model", "SentencePiece");
    }

    [SkippableTheory]
    [InlineData("{ \"model\": { \"type\": \"BPE\", ")]
    [InlineData("not json at all")]
    [InlineData("")]
    public void MalformedTokenizerJson(string text)
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", text);
        LoadFails(folder, "tokenizer.json", "malformed JSON");
    }

    [SkippableTheory]
    [InlineData("[1, 2, 3]", "top level")]
    [InlineData("{ \"version\": \"1.0\" }", "no \"model\" object")]
    [InlineData("{ \"model\": { \"type\": \"Unigram\", \"vocab\": [] } }", "the Unigram vocabulary is empty")]
    [InlineData("{ \"model\": { \"type\": \"Unigram\", \"vocab\": [[\"a\"]] } }", "model.vocab entry 0 is not a [piece, score] pair")]
    [InlineData("{ \"model\": { \"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"a\", -1.0]] } }", "unk_id 5 is outside the vocabulary")]
    [InlineData("{ \"model\": { \"type\": \"WordLevel\", \"vocab\": {} } }", "model type \"WordLevel\" is not supported")]
    [InlineData("{ \"model\": { \"vocab\": {} } }", "model type \"(none)\" is not supported")]
    public void UnsupportedTokenizerJson(string text, string problemPart)
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", text);
        LoadFails(folder, "tokenizer.json", problemPart);
    }

    [SkippableFact]
    public void UnknownPreTokenizer_IsRejected()
    {
        var json = TokenizerJsonMappingTests.Llama3Style();
        json["pre_tokenizer"] = new JsonObject { ["type"] = "NoSuchSplitter" };
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json.ToJsonString());
        LoadFails(folder, "tokenizer.json", "pre_tokenizer NoSuchSplitter is not supported");
    }

    [Theory]
    [InlineData("decoder", "{ \"type\": \"CTC\" }", "decoder \"CTC\" is not supported")]
    [InlineData("post_processor", "{ \"type\": \"Nope\" }", "post_processor \"Nope\" is not supported")]
    [InlineData("normalizer", "{ \"type\": \"Precompiled\", \"precompiled_charsmap\": \"AAAA\" }", "unusable precompiled_charsmap")]
    [InlineData("pre_tokenizer", "{ \"type\": \"Split\", \"pattern\": { \"String\": \" \" }, \"behavior\": \"Sideways\" }", "behavior \"Sideways\" is not one of")]
    [InlineData("pre_tokenizer", "{ \"type\": \"Metaspace\", \"prepend_scheme\": \"sometimes\" }", "prepend_scheme \"sometimes\"")]
    public void UnusablePipelineSteps(string field, string value, string problemPart)
    {
        var json = TokenizerJsonMappingTests.Llama3Style();
        json[field] = JsonNode.Parse(value);
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json.ToJsonString());
        LoadFails(folder, "tokenizer.json", problemPart);
    }

    [SkippableTheory]
    [InlineData("vocab", "[1, 2]", "model.vocab must be an object")]
    [InlineData("vocab", "{ \"a\": \"x\" }", "must be a non-negative integer id")]
    [InlineData("merges", "[ \"a b c\" ]", "model.merges entry 0 is not a pair")]
    [InlineData("merges", "[ [\"a\"] ]", "model.merges entry 0 is not a pair")]
    [InlineData("merges", "[ [\"q\", \"z\"] ]", "cannot build a BPE tokenizer")]
    [InlineData("merges", "[ [\"\u0100\u0101\", \"zz\"] ]", "cannot build a BPE tokenizer")]
    public void BadBpeModelFields(string field, string value, string problemPart)
    {
        var json = TokenizerJsonMappingTests.Llama3Style();
        json["model"]![field] = JsonNode.Parse(value);
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json.ToJsonString());
        LoadFails(folder, "tokenizer.json", problemPart);
    }

    [SkippableFact]
    public void RegexThatDotNetCannotUse()
    {
        var json = TokenizerJsonMappingTests.Llama3Style();
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["Regex"] = "(unclosed" };
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json.ToJsonString());
        LoadFails(folder, "tokenizer.json", "regex cannot be used");
    }

    [SkippableFact]
    public void UnsupportedNormalizer()
    {
        var json = TokenizerJsonMappingTests.Llama3Style();
        json["normalizer"] = new JsonObject { ["type"] = "Transliterate" };
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", json.ToJsonString());
        LoadFails(folder, "tokenizer.json", "normalizer \"Transliterate\" is not supported");
    }

    [SkippableTheory]
    [InlineData("{ \"add_bos_token\": ", "malformed JSON")]
    [InlineData("{ \"add_bos_token\": \"yes\" }", "\"add_bos_token\" must be true or false")]
    [InlineData("{ \"bos_token\": 5 }", "\"bos_token\" must be a string or an object")]
    [InlineData("{ \"bos_token\": \"<nope>\" }", "bos_token \"<nope>\" is not in the vocabulary")]
    [InlineData("{ \"add_eos_token\": true }", "add_eos_token is true but no eos_token")]
    public void BadTokenizerConfig(string config, string problemPart)
    {
        using var folder = new TempFolder();
        folder.Write("tokenizer.json", TokenizerJsonMappingTests.Llama3Style().ToJsonString());
        folder.Write("tokenizer_config.json", config);
        LoadFails(folder, "tokenizer_config.json", problemPart);
    }

    [SkippableFact]
    public void VocabTxtWithoutUnknownToken()
    {
        using var folder = new TempFolder();
        folder.Write("vocab.txt", "hello\nworld\n");
        LoadFails(folder, "vocab.txt", "cannot build a WordPiece tokenizer");
    }

    [SkippableFact]
    public void EmptyVocabTxt()
    {
        using var folder = new TempFolder();
        folder.Write("vocab.txt", "");
        LoadFails(folder, "vocab.txt", "empty");
    }
}
