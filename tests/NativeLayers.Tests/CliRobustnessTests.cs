using System.CommandLine;
using System.Text;
using System.Text.Json;
using NativeLayers.Analysis.Steering;
using NativeLayers.Cli;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>Issue 10: nothing a user types crashes the CLI, hangs it or returns garbage.</summary>
public sealed class CliRobustnessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nl-robust-").FullName;
    private static string Stories => SharedData.Model("stories260k");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static readonly string[] Prompts = ["Once upon a time", "The little girl", "Tom and his dog", "The sun was bright"];

    /// <summary>"Once upon a time\nThe little \xC3(girl\n": 0xC3 opens a two-byte sequence that '(' does not continue.</summary>
    private static readonly byte[] InvalidText = [.. "Once upon a time\nThe little "u8, 0xC3, .. "(girl\n"u8];

    private static readonly byte[] InvalidPairs =
    [
        .. "{\"positive\": \"Lily was happy.\", \"negative\": \"Lily was sad.\"}\n{\"positive\": \"Tom was "u8, 0xC3,
        .. "(glad.\", \"negative\": \"Tom was sad.\"}\n"u8,
    ];

    private static readonly byte[] InvalidProbeData = [.. "{\"text\": \"The cat "u8, 0xC3, .. "(ran.\", \"label\": \"animal\"}\n"u8];

    /// <summary>Runs nl with {model}, {dir}, {prompts}, {pairs} and {probe} replaced (arguments separated by spaces).</summary>
    private (int Code, string Out, string Err) RunTemplate(string template, params string[] extra) =>
        CliTests.Run([.. template.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Expand), .. extra]);

    private string Expand(string arg) => arg switch
    {
        "{model}" => Stories,
        "{prompts}" => WriteLines("prompts.txt", Prompts),
        "{pairs}" => WriteLines("pairs.jsonl", Pairs()),
        "{probe}" => WriteLines("probe.jsonl", ProbeExamples()),
        _ => arg.Replace("{dir}", _dir),
    };

    private string WriteLines(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    internal static IEnumerable<string> Pairs() =>
        new[] { ("Lily was very happy.", "Lily was very sad."), ("Tom was glad to play.", "Tom was sad to go."), ("The dog was happy.", "The dog was sad.") }
            .Select(p => JsonSerializer.Serialize(new { positive = p.Item1, negative = p.Item2 }));

    internal static IEnumerable<string> ProbeExamples() =>
        new[] { "cat", "dog", "bird", "fish" }.Select(a => JsonSerializer.Serialize(new { text = $"The {a} ran.", label = "animal" }))
            .Concat(new[] { "cake", "milk", "soup", "pie" }.Select(f => JsonSerializer.Serialize(new { text = $"They ate {f}.", label = "food" })));

    internal static void AssertOneErrorLine(int code, string err, params string[] expected)
    {
        Assert.True(code == CliApp.UserError, $"exit {code}: {err}");
        Assert.StartsWith("error: ", err);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.DoesNotContain("   at ", err);
        foreach (var text in expected) Assert.Contains(text, err);
    }

    // 1. The last-resort handler: whatever is thrown, one line on stderr and exit 1.

    private static (int Code, string Err) RunThrowing(Exception thrown, params string[] extra)
    {
        var root = CliApp.BuildRoot();
        var boom = new Command("boom", "Throws.");
        boom.SetAction(new Action<ParseResult>(_ => throw thrown));
        root.Subcommands.Add(boom);
        var error = new StringWriter();
        int code = CliApp.Run(root, ["boom", .. extra], new StringWriter(), error);
        return (code, error.ToString());
    }

    private static Exception Thrown(string kind) => kind switch
    {
        "markup" => Record.Exception(() => Spectre.Console.AnsiConsoleExtensions.MarkupLine(CliApp.Console(new StringWriter()), "shape [512, 64]"))!,
        "null" => new NullReferenceException(),
        "invalid-operation" => new InvalidOperationException("Sequence contains no elements\nsecond line"),
        "out-of-memory" => new OutOfMemoryException(),
        "io" => new IOException("No space left on device : '/data/out.json'"),
        "access" => new UnauthorizedAccessException("Access to the path '/data/out.json' is denied."),
        "aggregate" => new AggregateException(new OutOfMemoryException()),
        _ => throw new ArgumentException(kind),
    };

    [SkippableTheory]
    [InlineData("markup", "bug")]
    [InlineData("null", "NullReferenceException")]
    [InlineData("invalid-operation", "second line")]
    [InlineData("out-of-memory", "out of memory")]
    [InlineData("io", "No space left")]
    [InlineData("access", "permission denied")]
    [InlineData("aggregate", "out of memory")]
    public void AnUnexpectedExceptionIsOneErrorLineSayingWhatFailed(string kind, string expected)
    {
        var (code, err) = RunThrowing(Thrown(kind));
        AssertOneErrorLine(code, err, "nl boom", expected);
    }

    [SkippableFact]
    public void AUserErrorKeepsItsCleanMessage()
    {
        var (code, err) = RunThrowing(new ModelFileException("/data/p.txt", "prompt file not found."));
        Assert.Equal(CliApp.UserError, code);
        Assert.Equal("error: /data/p.txt: prompt file not found.", err.TrimEnd());
    }

    [SkippableFact]
    public void VerboseShowsTheFullException()
    {
        var (code, err) = RunThrowing(Thrown("null"), "--verbose");
        Assert.Equal(CliApp.UserError, code);
        Assert.StartsWith("error: ", err);
        Assert.Contains("System.NullReferenceException", err);
        Assert.Contains("   at ", err);
    }

    // 2. Model-derived text is escaped before it reaches Spectre markup.

    [SkippableFact]
    public void InspectListsEveryTensorWithItsShape()
    {
        var (code, output, err) = CliTests.Run("inspect", "--model", Stories, "--tensors");
        Assert.True(code == 0, err);
        Assert.Contains("model.embed_tokens.weight", output);
        Assert.Contains("[512, 64]", output);
    }

    // 3. Prompt and data files are strict UTF-8 unless --encoding-errors replace.

    [SkippableTheory]
    [InlineData("generate --model {model} -n 2 --prompts", false)]
    [InlineData("capture --model {model} --out {dir}/capture --input", false)]
    [InlineData("compare --model {model} --out {dir}/c.json --prompts", false)]
    [InlineData("metrics --model {model} --out {dir}/m.json --prompts", false)]
    [InlineData("stitch --model {model} --out {dir}/s.json --text", false)]
    [InlineData("steer sweep --model {model} --vector {dir}/none.safetensors --layers 1 --prompts", false)]
    [InlineData("vector extract --model {model} --out {dir}/v.safetensors --pairs", true)]
    [InlineData("probe --model {model} --out {dir}/p.json --data", true)]
    public void InvalidUtf8InAnInputFileNamesTheFileAndTheByteOffset(string command, bool pairs)
    {
        byte[] bytes = pairs ? (command.StartsWith("probe") ? InvalidProbeData : InvalidPairs) : InvalidText;
        string file = WriteBytes(pairs ? "bad.jsonl" : "bad.txt", bytes);
        var (code, _, err) = RunTemplate(command, file);
        AssertOneErrorLine(code, err, file, $"byte offset {Array.IndexOf(bytes, (byte)0xC3)}", "--encoding-errors replace");
    }

    [SkippableTheory]
    [InlineData("generate --model {model} -n 2 --prompts", false)]
    [InlineData("vector extract --model {model} --layers 1 --out {dir}/v.safetensors --pairs", true)]
    public void EncodingErrorsReplaceReadsTheFileAnyway(string command, bool pairs)
    {
        string file = pairs
            ? WriteBytes("bad.jsonl", [.. InvalidPairs, .. Encoding.UTF8.GetBytes(string.Join("\n", Pairs()))])
            : WriteBytes("bad.txt", InvalidText);
        var (code, _, err) = RunTemplate(command, file, "--encoding-errors", "replace");
        Assert.True(code == 0, err);
    }

    [SkippableTheory]
    [InlineData("generate --model {model} -n 2 --prompts {dir}")]
    [InlineData("vector extract --model {model} --out {dir}/v.safetensors --pairs {dir}")]
    [InlineData("probe --model {model} --out {dir}/p.json --data {dir}")]
    public void ADirectoryGivenAsAnInputFileIsNamedAsSuch(string command)
    {
        var (code, _, err) = RunTemplate(command);
        AssertOneErrorLine(code, err, "is a directory, not a file");
    }

    [SkippableFact]
    public void TextFilesCountTheOffsetFromTheFileStartAndReplaceOnRequest()
    {
        string file = WriteBytes("bom.txt", [0xEF, 0xBB, 0xBF, .. "ok\r\nstill ok\n"u8, 0xF0, 0x9F, .. "\n"u8]);
        var strict = Assert.Throws<ModelFileException>(() => TextFiles.ReadLines(file, "prompt"));
        Assert.Contains("byte offset 16 (line 3)", strict.Message);
        Assert.Equal(["ok", "still ok", "\uFFFD"], TextFiles.ReadLines(file, "prompt", EncodingErrors.Replace));
    }

    // 4. Output paths are checked before any work, and a failure leaves no partial set.

    [SkippableFact]
    public void VectorExtractRefusesAnOutputWithAnotherExtension()
    {
        var (code, output, err) = RunTemplate("vector extract --model {model} --pairs {pairs} --out {dir}/v.txt");
        AssertOneErrorLine(code, err, "--out", ".safetensors or .gguf");
        Assert.Empty(output);
        Assert.False(File.Exists(Path.Combine(_dir, "v.txt")));
    }

    [SkippableFact]
    public void APlotWithAnotherExtensionIsRefusedBeforeAnythingIsWritten()
    {
        var (code, output, err) = RunTemplate("compare --model {model} --prompts {prompts} --out {dir}/c.json --plot {dir}/c.jpg");
        AssertOneErrorLine(code, err, "--plot", ".png or .svg");
        Assert.Empty(output);
        Assert.False(File.Exists(Path.Combine(_dir, "c.json")));
        Assert.False(File.Exists(Path.Combine(_dir, "c.csv")));
    }

    [SkippableFact]
    public void AnOutputThatIsADirectoryIsRefusedBeforeComputing()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "h.safetensors"));
        var (code, output, err) = RunTemplate("hidden --model {model} --ids 1,2,3 --out {dir}/h.safetensors");
        AssertOneErrorLine(code, err, "--out", "is a directory, not a file");
        Assert.DoesNotContain(".tmp", err);
        Assert.Empty(output);
    }

    [SkippableFact]
    public void AnOutputBesideTheJsonIsCheckedTooAndNothingIsWritten()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "p.csv"));
        var (code, output, err) = RunTemplate("probe --model {model} --data {probe} --out {dir}/p.json");
        AssertOneErrorLine(code, err, Path.Combine(_dir, "p.csv"), "is a directory, not a file");
        Assert.Empty(output);
        Assert.False(File.Exists(Path.Combine(_dir, "p.json")));
    }

    [SkippableFact]
    public void AFileWhereAnOutputFolderShouldBeIsAnError()
    {
        File.WriteAllText(Path.Combine(_dir, "file.txt"), "x");
        var (code, output, err) = RunTemplate("capture --model {model} --input {prompts} --out {dir}/file.txt/capture");
        AssertOneErrorLine(code, err, "--out", Path.Combine(_dir, "file.txt") + " is a file");
        Assert.Empty(output);
    }

    [SkippableFact]
    public void MissingOutputFoldersAreCreatedForEveryOutput()
    {
        var (code, _, err) = RunTemplate("metrics --model {model} --prompts {prompts} --metrics prompt-entropy " +
            "--out {dir}/a/m.json --csv {dir}/b/m.csv --plot {dir}/c/d/m.svg");
        Assert.True(code == 0, err);
        Assert.True(File.Exists(Path.Combine(_dir, "a", "m.json")));
        Assert.True(File.Exists(Path.Combine(_dir, "b", "m.csv")));
        Assert.True(File.Exists(Path.Combine(_dir, "c", "d", "m.svg")));
    }

    [SkippableFact]
    public void AtomicWritersNameTheDestinationNotTheirTemporaryFile()
    {
        string folder = Path.Combine(_dir, "taken");
        Directory.CreateDirectory(folder);
        var safetensors = Assert.ThrowsAny<NativeLayersException>(() =>
            SafetensorsWriter.Write(folder, [TensorData.FromFloats("x", [2], [1f, 2f])]));
        Assert.StartsWith(folder, safetensors.Message);
        Assert.DoesNotContain(".tmp", safetensors.Message);

        var set = new SteeringVectorSet(2);
        set.Set(1, [1f, 2f]);
        var gguf = Assert.ThrowsAny<NativeLayersException>(() => GgufControlVectorFile.Write(folder, set));
        Assert.StartsWith(folder, gguf.Message);
        Assert.DoesNotContain(".tmp", gguf.Message);
    }

    // 5. Numeric options are checked as they are parsed.

    [SkippableTheory]
    [InlineData("--temperature", "generate --model {model} --ids 1 --temperature NaN")]
    [InlineData("--temperature", "generate --model {model} --ids 1 --temperature Infinity")]
    [InlineData("--top-p", "generate --model {model} --ids 1 --top-p 0")]
    [InlineData("--top-p", "generate --model {model} --ids 1 --top-p 1.5")]
    [InlineData("--top-p", "generate --model {model} --ids 1 --top-p NaN")]
    [InlineData("--top-k", "generate --model {model} --ids 1 --top-k -1")]
    [InlineData("--max-tokens", "generate --model {model} --ids 1 --max-tokens -1")]
    [InlineData("--steer", "generate --model {model} --ids 1 --steer {dir}/v.safetensors@1*NaN")]
    [InlineData("--tokens", "verify --model {model} --tokens 0")]
    [InlineData("--batch", "verify --model {model} --batch 0")]
    [InlineData("--rbf-threshold", "compare --model {model} --prompts {prompts} --out {dir}/c.json --rbf-threshold NaN")]
    [InlineData("--variance", "compare --model {model} --prompts {prompts} --out {dir}/c.json --variance 1.5")]
    [InlineData("--batch", "metrics --model {model} --prompts {prompts} --out {dir}/m.json --batch 0")]
    [InlineData("--alpha", "metrics --model {model} --prompts {prompts} --out {dir}/m.json --alpha NaN")]
    [InlineData("--temperature", "metrics --model {model} --prompts {prompts} --out {dir}/m.json --temperature -1")]
    [InlineData("--l2", "probe --model {model} --data {probe} --out {dir}/p.json --l2 Infinity")]
    [InlineData("--ridge", "stitch --model {model} --text {prompts} --out {dir}/s.json --ridge Infinity")]
    [InlineData("--holdout", "stitch --model {model} --text {prompts} --out {dir}/s.json --holdout 1")]
    [InlineData("--slots-a", "stitch --model {model} --text {prompts} --out {dir}/s.json --slots-a 9")]
    [InlineData("--batch", "capture --model {model} --input {prompts} --out {dir}/cap --batch 0")]
    [InlineData("--shard-size", "capture --model {model} --input {prompts} --out {dir}/cap --shard-size 0")]
    [InlineData("--layers", "capture --model {model} --input {prompts} --out {dir}/cap --layers 9")]
    [InlineData("--position", "lens --model {model} --ids 1,2,3 --position 3")]
    [InlineData("--position", "lens --model {model} --ids 1,2,3 --position -4")]
    [InlineData("--slots", "lens --model {model} --ids 1,2,3 --slots 7")]
    [InlineData("--max-tokens", "steer sweep --model {model} --vector {dir}/v.safetensors --layers 1 --prompt x --max-tokens -1")]
    [InlineData("--layers", "steer sweep --model {model} --vector {dir}/v.safetensors --layers 9 --prompt x")]
    public void ABadNumberIsOneErrorLineNamingTheOption(string option, string command)
    {
        var (code, _, err) = RunTemplate(command);
        AssertOneErrorLine(code, err, option);
    }

    // stories260k has 5 blocks (0..4) and so 6 residual slots (0..5): --layers always takes blocks, --slots slots.
    [Theory]
    [InlineData("capture --model {model} --input {prompts} --out {dir}/cap --layers 5", "--layers", "blocks 0..4")]
    [InlineData("vector extract --model {model} --pairs {pairs} --layers 5 --out {dir}/v.safetensors", "--layers", "blocks 0..4")]
    [InlineData("embed --model {model} --input {prompts} --layers -6 --out {dir}/e.jsonl", "--layers", "blocks 0..4")]
    [InlineData("steer sweep --model {model} --vector {dir}/v.safetensors --layers 5 --prompt x", "--layers", "blocks 0..4")]
    [InlineData("lens --model {model} --ids 1,2,3 --slots 6", "--slots", "slots 0..5")]
    [InlineData("probe --model {model} --data {probe} --out {dir}/p.json --slots -7", "--slots", "slots 0..5")]
    [InlineData("stitch --model {model} --text {prompts} --out {dir}/s.json --slots-b 6", "--slots-b", "slots 0..5")]
    public void LayersAreBlocksAndSlotsAreSlotsAndErrorsNameTheirRange(string command, string option, string range)
    {
        var (code, _, err) = RunTemplate(command);
        AssertOneErrorLine(code, err, option, range);
    }

    [Fact]
    public void TheLastSlotIsInRangeWhereTheLastBlockPlusOneIsNot()
    {
        Assert.Equal(0, RunTemplate("lens --model {model} --ids 1,2,3 --slots 5").Code);
        Assert.Equal([0, 5], LayerSelection.ParseSlots("0,-1", 5));
        Assert.Equal([4], LayerSelection.Parse("-1", 5));
    }
}
