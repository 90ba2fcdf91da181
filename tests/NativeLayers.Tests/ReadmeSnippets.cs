// region usings
using NativeLayers.Backends;
using NativeLayers.Backends.Gpu;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;
// endregion
using System.Text.RegularExpressions;

namespace NativeLayers.Tests;

/// <summary>
/// The C# snippets of README.md, compiled and run here on the repository's stories260k. The README's ```csharp
/// blocks must be exactly this file's "region usings" followed by each "region snippet-N" (checked below), so the
/// README cannot drift from the API.
/// </summary>
public sealed partial class ReadmeSnippets
{
    private static readonly string dir = ReferenceData.Stories260k;

    [Fact]
    public void Snippet1_ResidualStreamAndGeneration()
    {
        // region snippet-1
        using var model = Transformer.Load(dir);                    // dir: a model folder, e.g. "models/stories260k"
        int[] ids = model.Tokenizer.Encode("Once upon a time");
        ForwardResult result = model.Forward([ids]);                // a batch of one sequence
        Span<float> afterBlock2 = result.Residual.Slot(3);          // [tokens, d_model]
        ReadOnlySpan<float> next = result.LastLogits(0);            // logits after the last token

        // Incremental use with a KV cache, several sequences of any lengths at once:
        var seq = model.NewSequence();
        model.Forward([seq], [ids], LogitsMode.LastPerSequence);
        model.Forward([seq], [[42]], LogitsMode.LastPerSequence);

        var outputs = new Generator(model).Generate([ids], new GenerationOptions { MaxNewTokens = 40, Temperature = 0.8f, TopP = 0.95f, Seed = 1 });

        // Another backend: the host composes it (the runtime itself never loads ILGPU).
        using var onGpu = Transformer.Load(dir, new RuntimeOptions { Backend = () => new GpuBackend(DeviceKind.IlgpuCpu) });
        // endregion
        Assert.Equal(ids.Length * model.Width, afterBlock2.Length);
        Assert.Equal(model.VocabSize, next.Length);
        Assert.Single(outputs);
        Assert.Equal(model.Layers, onGpu.Layers);
    }

    [Fact]
    public void Snippet2_SteeringAndCapture()
    {
        using var model = Transformer.Load(dir);
        int[][] batch = [model.Tokenizer.Encode("Once upon a time"), model.Tokenizer.Encode("The dog")];
        int[][] prompts = batch;
        var vector = new float[model.Width];
        vector[0] = 1f;
        float[] other = [.. vector], direction = [.. vector];
        // region snippet-2
        var plan = new SteeringPlan()
            .AddVector(layer: 2, vector, coefficient: 4f)                                   // folded into block 2's down-projection bias
            .AddVector(3, other, -2f, HookPoint.AttnOut, TokenSelection.Generated)          // only on generated tokens
            .ProjectOut(4, direction);                                                      // ablation (the last of 5 blocks)
        var result = model.Forward(batch, new ForwardOptions { Steering = plan, Capture = [new HookId(HookPoint.MlpOut, 2)] });
        var outputs = new Generator(model).Generate(prompts, new GenerationOptions { Steering = plan });
        var captured = Capturer.Run(model, batch, new CapturePlan { Hooks = CapturePlan.ParseHooks("resid_post", "0-3,-1", model.Layers), Reduction = Reduction.Mean });
        var lastTokens = Capturer.Run(model, batch, new CapturePlan { Hooks = [HookId.ResidPost(3)], Tokens = TokenSelection.Last });

        // Run blocks 3.. from a given residual (one [tokens, d_model] array per sequence becomes slot 3):
        float[][] residualRows = [.. batch.Select((ids, b) => result.Residual.SequenceSlot(3, b).ToArray())];
        var resumed = model.ForwardFrom(startSlot: 3, residualRows, batch);

        // Stop once slot 2 is computed (TransformerLens' stop_at_layer): blocks 2.. do not run, no logits are made.
        var early = model.Forward(batch, new ForwardOptions { StopAtSlot = 2, HostSlots = [2] });
        // endregion
        Assert.Equal(result.Residual.Slot(2).ToArray(), model.Forward(batch, new ForwardOptions { Steering = plan, StopAtSlot = 2 }).Residual.Slot(2).ToArray());
        Assert.Null(early.Logits);
        Assert.Equal(2, outputs.Count);
        Assert.Equal(5, captured.Count);
        Assert.Single(lastTokens);
        Assert.Equal(batch[0].Length * model.Width, resumed.Residual.SequenceSlot(model.Layers, 0).Length);
    }

    [Fact]
    public void TheReadmeShowsExactlyTheseSnippets()
    {
        string source = File.ReadAllText(Path.Combine(ReferenceData.RepoRoot, "tests", "NativeLayers.Tests", "ReadmeSnippets.cs"));
        string readme = File.ReadAllText(Path.Combine(ReferenceData.RepoRoot, "README.md"));
        string usings = Region(source, "usings");
        var blocks = CsharpBlock().Matches(readme).Select(m => m.Groups[1].Value.TrimEnd()).ToArray();
        var snippets = Enumerable.Range(1, 2).Select(i => usings + "\n\n" + Region(source, $"snippet-{i}")).ToArray();
        Assert.Equal(snippets, blocks);
    }

    /// <summary>The lines between "// region NAME" and "// endregion", dedented by the first line's indentation.</summary>
    private static string Region(string source, string name)
    {
        var lines = source.Replace("\r\n", "\n").Split('\n');
        int start = Array.FindIndex(lines, l => l.Trim() == $"// region {name}") + 1;
        Assert.True(start > 0, $"no region {name}");
        int end = Array.FindIndex(lines, start, l => l.Trim() == "// endregion");
        var body = lines[start..end];
        int indent = body[0].Length - body[0].TrimStart().Length;
        return string.Join("\n", body.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())).TrimEnd();
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CsharpBlock();
}

/// <summary>The README's sample-data commands, run as written (in a scratch copy: out/ lands in a temp folder).</summary>
public sealed class ReadmeSampleCommands : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nl-readme-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void EverySampleDataExampleRuns()
    {
        string readme = File.ReadAllText(Path.Combine(ReferenceData.RepoRoot, "README.md")).Replace("\r\n", "\n");
        int section = readme.IndexOf("## Sample data", StringComparison.Ordinal);
        int start = readme.IndexOf("```bash\n", section, StringComparison.Ordinal) + "```bash\n".Length;
        var commands = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)]
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToArray();
        Assert.True(commands.Length >= 8, "the README's sample-data block has too few commands");
        foreach (string command in commands)
        {
            Assert.StartsWith("nl ", command);
            var args = Words(command[3..]).Select(a => a
                .Replace("samples/", Path.Combine(ReferenceData.RepoRoot, "samples") + "/")
                .Replace("out/", _dir + "/")).ToArray();
            var (code, _, err) = CliTests.Run(args);
            Assert.True(code == 0, $"{command}: exit {code}: {err}");
        }
    }

    /// <summary>Splits a command line at spaces, keeping "quoted words" together.</summary>
    private static IEnumerable<string> Words(string line) =>
        System.Text.RegularExpressions.Regex.Matches(line, "\"([^\"]*)\"|(\\S+)").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);
}
