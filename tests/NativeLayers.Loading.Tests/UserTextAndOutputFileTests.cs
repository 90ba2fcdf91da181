using System.Text;

namespace NativeLayers.Loading.Tests;

/// <summary>The files a user gives (prompts, pairs: strict UTF-8, the first bad byte located) and the outputs the engine
/// writes (complete or not at all, refused early when the path cannot take them).</summary>
public sealed class UserTextAndOutputFileTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void StrictUtf8NamesTheOffsetAndLineOfTheFirstBadByte()
    {
        string path = _temp.File("prompts.txt");
        // A BOM, two good lines (one with a 2-byte é), then a lone continuation byte at offset 3 + 6 + 5 = 14.
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "caf\u00e9\n"u8, .. "two\r\n"u8, 0x80, .. "x\n"u8]);
        var error = Assert.Throws<ModelFileException>(() => TextFiles.ReadAll(path, "prompts"));
        Assert.Equal(path, error.FilePath);
        Assert.Contains("is not valid UTF-8: the first invalid byte sequence is at byte offset 14 (line 3)", error.Message);
        Assert.Contains("--encoding-errors replace", error.Message);

        // Replace reads it as U+FFFD; the BOM is dropped; lines split on \n, \r\n and \r.
        Assert.Equal("caf\u00e9\ntwo\r\n\ufffdx\n", TextFiles.ReadAll(path, "prompts", EncodingErrors.Replace));
        File.WriteAllBytes(path, [.. "a\rb\r\nc\n\nd"u8]);
        Assert.Equal(["a", "b", "c", "", "d"], TextFiles.ReadLines(path, "prompts"));
    }

    [Fact]
    public void ATruncatedMultiByteSequenceAtTheEndIsFoundToo()
    {
        string path = _temp.File("pairs.jsonl");
        File.WriteAllBytes(path, [.. "ok\n"u8, 0xE2, 0x82]); // the first two bytes of € (E2 82 AC)
        Assert.Contains("byte offset 3 (line 2)", Assert.Throws<ModelFileException>(() => TextFiles.ReadLines(path, "pairs")).Message);
    }

    [Fact]
    public void MissingFilesAndFoldersAreToldApart()
    {
        string missing = _temp.File("nope.txt");
        Assert.Equal($"{missing}: prompts file not found.", Assert.Throws<ModelFileException>(() => TextFiles.ReadAll(missing, "prompts")).Message);
        Assert.Equal($"{_temp.Path}: is a directory, not a file (expected the labelled data file).",
            Assert.Throws<ModelFileException>(() => TextFiles.ReadLines(_temp.Path, "labelled data")).Message);
    }

    [Fact]
    public void JsonLinesSkipBlankLinesAndNameTheBadLine()
    {
        string path = _temp.File("pairs.jsonl");
        File.WriteAllText(path, "{\"a\": 1}\n\n   \n{\"a\": 2}\n");
        var values = JsonLines.Read(path, "pairs", "an object with a", e => e.TryGetProperty("a", out var a) ? (object)a.GetInt32() : null);
        Assert.Equal([1, 2], values.Cast<int>());

        File.WriteAllText(path, "{\"a\": 1}\n{\"b\": 2}\n");
        Assert.Equal($"{path}: line 2: expected an object with a.",
            Assert.Throws<ModelFileException>(() => JsonLines.Read(path, "pairs", "an object with a", e => e.TryGetProperty("a", out _) ? "" : null)).Message);
        File.WriteAllText(path, "{\"a\": 1}\n\n{\"a\": \n");
        Assert.StartsWith($"{path}: line 3 is not valid JSON (",
            Assert.Throws<ModelFileException>(() => JsonLines.Read(path, "pairs", "x", e => "")).Message);
    }

    [Fact]
    public void StagedFilesAppearOnlyOnCommitAndVanishOnDispose()
    {
        string a = _temp.File("out/sub/a.json"), b = _temp.File("out/b.bin");
        using (var files = new StagedFiles())
        {
            files.Stage(a, "{\"x\": \u00e9}");
            files.Stage(b, new byte[] { 1, 2, 3 });
            Assert.False(File.Exists(a));
            Assert.False(File.Exists(b));
            files.Commit();
        }
        Assert.Equal("{\"x\": \u00e9}", File.ReadAllText(a));
        Assert.Equal(Encoding.UTF8.GetBytes("{\"x\": \u00e9}"), File.ReadAllBytes(a)); // no byte order mark
        Assert.Equal([1, 2, 3], File.ReadAllBytes(b));

        using (var files = new StagedFiles())
        {
            files.Stage(b, new byte[] { 9 });
            // Not committed: the old file stays, and no temporary file is left behind.
        }
        Assert.Equal([1, 2, 3], File.ReadAllBytes(b));
        Assert.Equal(["a.json"], Directory.GetFiles(Path.GetDirectoryName(a)!).Select(Path.GetFileName));
        Assert.Equal(["b.bin"], Directory.GetFiles(Path.GetDirectoryName(b)!).Select(Path.GetFileName));
    }

    [Fact]
    public void AWriterThatFailsLeavesNothingAndItsErrorPropagates()
    {
        string path = _temp.File("half.bin");
        var error = Assert.Throws<InvalidOperationException>(() => StagedFiles.Write(path, stream =>
        {
            stream.Write([1, 2, 3]);
            throw new InvalidOperationException("the computation failed");
        }));
        Assert.Equal("the computation failed", error.Message);
        Assert.Empty(Directory.GetFiles(_temp.Path));

        // An I/O failure while writing names the destination, not the temporary file.
        var io = Assert.Throws<ModelFileException>(() => StagedFiles.Write(path, _ => throw new IOException("disk on fire")));
        Assert.Equal($"{path}: cannot write: disk on fire", io.Message);
        Assert.Empty(Directory.GetFiles(_temp.Path));
        StagedFiles.Write(path, stream => stream.Write([7]));
        Assert.Equal([7], File.ReadAllBytes(path));
    }

    [Fact]
    public void OutputPathsRefuseFoldersWhereFilesGoAndFilesWhereFoldersGo()
    {
        Assert.Equal($"{_temp.Path}: is a directory, not a file.", Assert.Throws<ModelFileException>(() => OutputPaths.PrepareFile(_temp.Path)).Message);
        string file = _temp.File("taken");
        File.WriteAllText(file, "");
        Assert.Equal($"{file}: is a file, not a folder.", Assert.Throws<ModelFileException>(() => OutputPaths.PrepareFolder(file)).Message);
        string below = Path.Combine(file, "deeper", "out.json");
        Assert.Equal($"{below}: {file} is a file, so the folder {Path.Combine(file, "deeper")} cannot be created.",
            Assert.Throws<ModelFileException>(() => OutputPaths.PrepareFile(below)).Message);
        string fresh = _temp.File("new/nested/folder");
        OutputPaths.PrepareFolder(fresh);
        Assert.True(Directory.Exists(fresh));
        Assert.Empty(Directory.GetFileSystemEntries(fresh)); // the write check leaves nothing
    }
}
