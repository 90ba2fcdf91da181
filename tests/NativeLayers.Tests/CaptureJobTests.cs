using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// Dataset capture as a job a user can trust: resumes check every recorded shard, one writer per folder, malformed
/// manifests are one-line errors, and a capture killed or interrupted at any point finishes to the same bytes.
/// </summary>
public partial class CaptureJobTests
{
    private static readonly string[] Texts = ["Once upon a time", "The little girl", "Tom and his dog", "Lily saw a cat.", "The sun was hot.", "A big red ball"];

    private static (Transformer Model, int[][] Prompts, CapturePlan Plan, DatasetCaptureOptions Options) Job()
    {
        var model = Transformer.Load(SharedData.Model("stories260k"));
        var prompts = Texts.Select(t => model.Tokenizer.Encode(t)).ToArray();
        return (model, prompts, new CapturePlan { Hooks = CapturePlan.ParseHooks("resid_post", "1,3", model.Layers) },
            new DatasetCaptureOptions { BatchSize = 2, PromptsPerShard = 2 });
    }

    private static Dictionary<string, byte[]> Shards(string dir) =>
        Directory.GetFiles(dir, "shard-*.safetensors").ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    [SkippableFact]
    public void ResumeRedoesAShardThatNoLongerMatchesTheManifest()
    {
        var (model, prompts, plan, options) = Job();
        using var _ = model;
        using var folder = new TempFolder();
        DatasetCapture.Run(model, prompts, plan, folder.Path, options);
        var original = Shards(folder.Path);

        string truncated = folder.File("shard-00001.safetensors");
        File.WriteAllBytes(truncated, File.ReadAllBytes(truncated)[..1000]);
        var flipped = File.ReadAllBytes(folder.File("shard-00002.safetensors"));
        flipped[^1] ^= 1; // same size, different content: only the checksum sees it
        File.WriteAllBytes(folder.File("shard-00002.safetensors"), flipped);
        File.WriteAllText(folder.File("shard-00000.safetensors.4242.0123456789abcdef.tmp"), "left by a killed writer");

        var resumed = DatasetCapture.Run(model, prompts, plan, folder.Path, options);
        Assert.Equal(1, resumed.ShardsSkipped);
        Assert.Equal(original, Shards(folder.Path));
        Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));
    }

    [SkippableFact]
    public void ASecondWriterIsToldTheFolderIsInUse()
    {
        var (model, prompts, plan, options) = Job();
        using var _ = model;
        using var folder = new TempFolder();
        using (CaptureFolderLock.Take(folder.Path))
        {
            var e = Assert.Throws<NativeLayersException>(() => DatasetCapture.Run(model, prompts, plan, folder.Path, options));
            Assert.Contains($"is in use by another capture (pid {Environment.ProcessId}", e.Message);
        }
        DatasetCapture.Run(model, prompts, plan, folder.Path, options); // the lock is gone with its holder
    }

    [SkippableTheory]
    [InlineData("[null]", "shards[0] is not an object")]
    [InlineData("[{\"file\":\"shard-00000.safetensors\",\"first_prompt\":0,\"prompts\":2,\"tokens\":\"many\",\"rows\":1,\"bytes\":1,\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}]", "shards[0].tokens is not a non-negative integer")]
    [InlineData("[{\"file\":\"../../etc/passwd\"}]", "is not a shard name")]
    [InlineData("7", "has no 'shards' list")]
    public void AMalformedManifestIsOneLineNamingTheField(string shards, string expected)
    {
        var (model, prompts, plan, options) = Job();
        using var _ = model;
        using var folder = new TempFolder();
        DatasetCapture.Run(model, prompts, plan, folder.Path, options);
        var manifest = JsonNode.Parse(File.ReadAllText(folder.File("manifest.json")))!.AsObject();
        manifest["shards"] = JsonNode.Parse(shards);
        File.WriteAllText(folder.File("manifest.json"), manifest.ToJsonString());
        var e = Assert.Throws<ModelFileException>(() => DatasetCapture.Run(model, prompts, plan, folder.Path, options));
        Assert.Contains("manifest.json", e.Message);
        Assert.Contains(expected, e.Message);

        File.WriteAllText(folder.File("prompts.txt"), string.Join("\n", Texts));
        var (code, _, err) = CliTests.Run("capture", "--model", SharedData.Model("stories260k"), "--input", folder.File("prompts.txt"),
            "--points", "resid_post", "--layers", "1,3", "--batch", "2", "--shard-size", "2", "--out", folder.Path);
        Assert.Equal(1, code);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    // ---------------------------------------------------------------- the capture as a separate process

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int SendSignal(int pid, int signal);

    private const int SigTerm = 15; // SIGINT takes the same path; a test host started in the background may ignore SIGINT

    private static Process StartCapture(string prompts, string output) => Process.Start(new ProcessStartInfo
    {
        FileName = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet",
        ArgumentList = { Path.Combine(AppContext.BaseDirectory, "nl.dll"), "capture", "--model", SharedData.Model("stories260k"), "--input", prompts,
            "--points", "resid_post,mlp_out", "--layers", "1,3", "--batch", "16", "--shard-size", "64", "--threads", "1", "--out", output },
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    })!;

    private static (int Code, string Error) Finish(Process process)
    {
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Result);
    }

    private static string PromptFile(TempFolder folder)
    {
        var random = new Random(5);
        string[] words = ["the", "cat", "sat", "on", "a", "mat", "and", "Lily", "ran", "to", "big", "tree", "happy", "dog"];
        var lines = Enumerable.Range(0, 4000).Select(_ => string.Join(" ", Enumerable.Range(0, random.Next(8, 40)).Select(_ => words[random.Next(words.Length)])));
        string path = folder.File("prompts.txt");
        File.WriteAllLines(path, lines);
        return path;
    }

    [SkippableFact]
    public void ACaptureKilledAtRandomPointsFinishesToTheSameBytesAsAnUninterruptedOne()
    {
        using var folder = new TempFolder();
        string prompts = PromptFile(folder);
        string reference = folder.File("reference"), killed = folder.File("killed");
        var clock = Stopwatch.StartNew();
        var (code, err) = Finish(StartCapture(prompts, reference));
        Assert.True(code == 0, err);
        int whole = (int)clock.ElapsedMilliseconds;

        // Kills land anywhere from start-up to the last shards (resumed runs have less left, so late kills may miss).
        var random = new Random(17);
        clock.Restart();
        int kills = 0;
        while (kills < 4 && clock.Elapsed < TimeSpan.FromSeconds(90))
        {
            var run = Stopwatch.StartNew();
            using var process = StartCapture(prompts, killed);
            if (process.WaitForExit(random.Next(whole / 5, whole * 9 / 10)))
            {
                if (kills > 0) break; // a resumed run finished before the kill
                // The first run was slower than this one (a busy machine, a cold start): time the kills from this one, afresh.
                whole = Math.Max(200, (int)run.ElapsedMilliseconds);
                Directory.Delete(killed, recursive: true);
                continue;
            }
            process.Kill();
            process.WaitForExit();
            kills++;
        }
        Assert.True(kills > 0, $"no run was killed (a whole capture took {whole} ms)");
        (code, err) = Finish(StartCapture(prompts, killed));
        Assert.True(code == 0, err);
        Assert.Equal(Shards(reference), Shards(killed));
        Assert.Empty(Directory.GetFiles(killed, "*.tmp"));
    }

    [SkippableFact]
    public void AnInterruptStopsBetweenStepsWithAConsistentManifestAndSaysHowToResume()
    {
        using var folder = new TempFolder();
        string prompts = PromptFile(folder), output = folder.File("out");
        using var process = StartCapture(prompts, output);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(output, "manifest.json")) && !process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(20);
        if (process.HasExited) return; // the machine ran it all before the first shard was seen: nothing to interrupt
        Assert.Equal(0, SendSignal(process.Id, SigTerm));
        var (code, err) = Finish(process);
        if (code == 0) return; // it finished between the check and the signal
        Assert.Equal(130, code);
        Assert.Contains("interrupted:", err);
        Assert.Contains("rerun the same command to resume", err);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "manifest.json")))!;
        Assert.False((bool)manifest["complete"]!);
        (code, err) = Finish(StartCapture(prompts, output));
        Assert.True(code == 0, err);
    }
}
