using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace NativeLayers.Tokenizing.Tests;

/// <summary>
/// Every case of every ../shared/tokenizers/*/reference.json (Hugging Face tokenizers' own output on real tokenizer
/// files), plus the extra oracle cases committed in Goldens/: ids, tokens, decoded and decoded with special tokens skipped.
/// </summary>
public class HuggingFaceReferenceTests(ITestOutputHelper output)
{
    private const string MissingShared = "(../shared/tokenizers missing)";

    /// <summary>Cases ("shared/NAME#i" or "extra/NAME#i") that do not match yet, with the reason; each is checked to still fail, so the list stays honest.</summary>
    private static readonly Dictionary<string, string> KnownFailures = new()
    {
    };

    private static readonly Lazy<Dictionary<string, ITextTokenizer>> Tokenizers = new(() => []);

    private static string ReferenceRoot => Path.Combine(ReferenceData.SharedRoot, "tokenizers");

    private static string GoldenRoot => Path.Combine(AppContext.BaseDirectory, "Goldens");

    /// <summary>(source, folder, case index): source is "shared" (reference.json) or "extra" (Goldens/NAME.json).</summary>
    public static TheoryData<string, string, int> Cases()
    {
        var data = new TheoryData<string, string, int>();
        if (!Directory.Exists(ReferenceRoot))
        {
            data.Add("shared", MissingShared, -1);
            return data;
        }
        foreach (var (source, name, file) in ReferenceFiles())
        {
            int count = TestData.ReadJson(file).GetProperty("cases").GetArrayLength();
            for (int i = 0; i < count; i++)
                data.Add(source, name, i);
        }
        return data;
    }

    private static IEnumerable<(string Source, string Name, string File)> ReferenceFiles()
    {
        foreach (string dir in Directory.GetDirectories(ReferenceRoot).Order(StringComparer.Ordinal))
        {
            string file = Path.Combine(dir, "reference.json");
            if (File.Exists(file))
                yield return ("shared", Path.GetFileName(dir), file);
        }
        if (Directory.Exists(GoldenRoot))
        {
            foreach (string file in Directory.GetFiles(GoldenRoot, "*.json").Order(StringComparer.Ordinal))
                yield return ("extra", Path.GetFileNameWithoutExtension(file), file);
        }
    }

    private static string CaseFile(string source, string name) =>
        source == "shared" ? Path.Combine(ReferenceRoot, name, "reference.json") : Path.Combine(GoldenRoot, name + ".json");

    private static HuggingFaceTextTokenizer Tokenizer(string name)
    {
        lock (Tokenizers.Value)
        {
            if (!Tokenizers.Value.TryGetValue(name, out var tok))
                Tokenizers.Value[name] = tok = TokenizerLoader.Load(Path.Combine(ReferenceRoot, name));
            return (HuggingFaceTextTokenizer)tok;
        }
    }

    /// <summary>
    /// A variant golden's tokenizer: the base folder's tokenizer.json with the recorded top-level ("set") and model
    /// ("set_model") fields replaced and added tokens appended, loaded without tokenizer_config.json (as the oracle loads it).
    /// </summary>
    private static HuggingFaceTextTokenizer VariantTokenizer(JsonElement variant)
    {
        string name = "variant:" + variant.GetProperty("name").GetString();
        lock (Tokenizers.Value)
        {
            if (Tokenizers.Value.TryGetValue(name, out var cached))
                return (HuggingFaceTextTokenizer)cached;
            string basePath = Path.Combine(ReferenceRoot, variant.GetProperty("base").GetString()!, "tokenizer.json");
            var json = JsonNode.Parse(File.ReadAllText(basePath))!.AsObject();
            if (variant.TryGetProperty("set", out var set))
            {
                foreach (var field in set.EnumerateObject())
                    json[field.Name] = JsonNode.Parse(field.Value.GetRawText());
            }
            if (variant.TryGetProperty("set_model", out var setModel))
            {
                foreach (var field in setModel.EnumerateObject())
                    json["model"]![field.Name] = JsonNode.Parse(field.Value.GetRawText());
            }
            if (variant.TryGetProperty("added", out var added))
            {
                foreach (var token in added.EnumerateArray())
                    json["added_tokens"]!.AsArray().Add(JsonNode.Parse(token.GetRawText()));
            }
            using var folder = new TempFolder();
            folder.Write("tokenizer.json", json.ToJsonString());
            var tok = TokenizerLoader.Load(folder.Path);
            Tokenizers.Value[name] = tok;
            return (HuggingFaceTextTokenizer)tok;
        }
    }

    /// <summary>Null when the case matches exactly, else what differs.</summary>
    private static string? Mismatch(string source, string name, int index)
    {
        var golden = TestData.ReadJson(CaseFile(source, name));
        var c = golden.GetProperty("cases")[index];
        var tok = source == "shared" ? Tokenizer(name)
            : golden.TryGetProperty("variant", out var variant) ? VariantTokenizer(variant)
            : Tokenizer(c.GetProperty("tokenizer").GetString()!);
        string text = c.GetProperty("text").GetString()!;
        int[] expectedIds = TestData.Ids(c.GetProperty("ids"));
        string[] expectedTokens = [.. c.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!)];
        var (ids, tokens) = tok.EncodeWithTokens(text, addSpecialTokens: true);
        var problems = new List<string>();
        if (!ids.SequenceEqual(expectedIds))
            problems.Add($"ids: expected [{string.Join(", ", expectedIds)}] got [{string.Join(", ", ids)}]");
        if (!tokens.SequenceEqual(expectedTokens))
            problems.Add($"tokens: expected [{string.Join(" | ", expectedTokens)}] got [{string.Join(" | ", tokens)}]");
        if (!ids.SequenceEqual(tok.Encode(text)))
            problems.Add("Encode(text) differs from EncodeWithTokens");
        string decoded = tok.Decode(expectedIds, skipSpecialTokens: false);
        if (decoded != c.GetProperty("decoded").GetString())
            problems.Add($"decoded: expected {JsonSerializer.Serialize(c.GetProperty("decoded").GetString())} got {JsonSerializer.Serialize(decoded)}");
        string skipped = tok.Decode(expectedIds, skipSpecialTokens: true);
        if (skipped != c.GetProperty("decoded_skip_special").GetString())
            problems.Add($"decoded_skip_special: expected {JsonSerializer.Serialize(c.GetProperty("decoded_skip_special").GetString())} got {JsonSerializer.Serialize(skipped)}");
        return problems.Count == 0 ? null : $"{JsonSerializer.Serialize(text)}: " + string.Join("; ", problems);
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void MatchesHuggingFace(string source, string name, int index)
    {
        Skip.If(name == MissingShared, $"The Hugging Face reference tokenizers are not there ({ReferenceRoot}): {ReferenceData.MissingReason}.");
        string key = $"{source}/{name}#{index}";
        string? mismatch = Mismatch(source, name, index);
        if (KnownFailures.TryGetValue(key, out string? reason))
        {
            Assert.True(mismatch is not null, $"{key} is listed as a known failure ({reason}) but now matches: remove it from KnownFailures.");
            output.WriteLine($"known failure {key} ({reason}): {mismatch}");
            return;
        }
        Assert.True(mismatch is null, $"{key}: {mismatch}");
    }

    /// <summary>
    /// Streaming: DecodeContinuation token by token, concatenated, gives Decode of all the ids. Not for WordPiece,
    /// whose clean-up rewrites text already given out (" ' " becomes "'" once the next piece arrives); BERT models do not generate.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void DecodeContinuation_TokenByToken_GivesDecode(string source, string name, int index)
    {
        if (source != "shared" || name == MissingShared) // MatchesHuggingFace reports a missing folder once.
            return;
        var tok = Tokenizer(name);
        if (tok.Pipeline.Model is Pipeline.WordPieceModel)
            return;
        int[] ids = TestData.Ids(TestData.ReadJson(CaseFile(source, name)).GetProperty("cases")[index].GetProperty("ids"));
        var prefix = new List<int>();
        string streamed = "";
        foreach (int id in ids)
        {
            streamed += tok.DecodeContinuation(prefix, [id]);
            prefix.Add(id);
        }
        Assert.Equal(tok.Decode(ids), streamed);
    }

    /// <summary>Text .NET strings can hold but Rust strings cannot (lone surrogates), and other odd input, never throws.</summary>
    [Fact]
    public void OddInput_EncodesAndDecodesWithoutThrowing()
    {
        if (!Directory.Exists(ReferenceRoot))
            return;
        string[] texts = ["\uD800", "a\uDC00b", "\uDBFF\uDFFF\uD83D", "\0\0\0", new string('x', 5000), string.Concat(Enumerable.Repeat("日本 ", 2000)),
            "\u0301\u0301 leading marks", "\uFFFF\uFFFE\uE000", "<mask><mask></s></s>", "\r\r\n\n\t"];
        foreach (string name in Directory.GetDirectories(ReferenceRoot).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal))
        {
            if (!File.Exists(Path.Combine(ReferenceRoot, name, "reference.json")))
                continue;
            var tok = Tokenizer(name);
            foreach (string text in texts)
            {
                var (ids, tokens) = tok.EncodeWithTokens(text, addSpecialTokens: true);
                Assert.Equal(ids.Length, tokens.Length);
                Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
                _ = tok.Decode(ids);
                _ = tok.Decode(ids, skipSpecialTokens: false);
            }
        }
    }

    [Fact]
    public void ExactCounts_PerTokenizer()
    {
        if (!Directory.Exists(ReferenceRoot))
            return; // MatchesHuggingFace reports the missing folder once.
        int exact = 0, total = 0;
        foreach (var (source, name, file) in ReferenceFiles())
        {
            int count = TestData.ReadJson(file).GetProperty("cases").GetArrayLength();
            int ok = Enumerable.Range(0, count).Count(i => Mismatch(source, name, i) is null);
            output.WriteLine($"{source}/{name}: {ok}/{count} exact");
            exact += ok;
            total += count;
        }
        output.WriteLine($"all: {exact}/{total} exact, {KnownFailures.Count} known failures");
        Assert.Equal(total - KnownFailures.Count, exact);
    }
}
