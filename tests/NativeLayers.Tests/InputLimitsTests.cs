using System.Text.Json.Nodes;
using NativeLayers.Cli;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Generation;

namespace NativeLayers.Tests;

/// <summary>
/// Models whose files disagree with their config, inputs past the model's context, and forwards that go non-finite:
/// each is a clear error before (or instead of) garbage, with an explicit way through where one makes sense.
/// </summary>
public class InputLimitsTests
{
    /// <summary>A copy of a model folder with its config edited and, optionally, its tensors rewritten.</summary>
    private static TempFolder Copy(string source, Action<JsonObject>? config = null, Func<List<TensorData>, List<TensorData>>? tensors = null)
    {
        var folder = new TempFolder();
        foreach (var file in Directory.GetFiles(source)) File.Copy(file, folder.File(Path.GetFileName(file)));
        if (config != null)
        {
            var json = JsonNode.Parse(File.ReadAllText(folder.File("config.json")))!.AsObject();
            config(json);
            File.WriteAllText(folder.File("config.json"), json.ToJsonString());
        }
        if (tensors != null)
        {
            List<TensorData> all;
            using (var file = SafetensorsFile.Open(folder.File("model.safetensors")))
                all = file.Tensors.Select(t => new TensorData(t.Name, t.DType, t.Shape, file.Bytes(t).ToArray())).ToList();
            SafetensorsWriter.Write(folder.File("model.safetensors"), tensors(all), new Dictionary<string, string> { ["format"] = "pt" });
        }
        return folder;
    }

    [SkippableFact]
    public void MoreLayersInTheFileThanInTheConfigIsAnErrorUnlessAllowed()
    {
        using var folder = Copy(SharedData.Model("stories260k"), c => c["num_hidden_layers"] = 3);
        var e = Assert.Throws<ModelFileException>(() => Transformer.Load(folder.Path).Dispose());
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("more layers than config.json's num_hidden_layers (3)", e.Message);
        Assert.Contains("--allow-unused-tensors", e.Message);
        using var allowed = Transformer.Load(folder.Path, new RuntimeOptions { AllowUnusedTensors = true });
        Assert.Equal(3, allowed.Layers);

        var (code, _, err) = CliTests.Run("hidden", "--model", folder.Path, "--ids", "1,2", "--out", folder.File("h.safetensors"));
        Assert.Equal(1, code);
        Assert.StartsWith("error:", err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        (code, _, err) = CliTests.Run("hidden", "--model", folder.Path, "--ids", "1,2", "--out", folder.File("h.safetensors"), "--allow-unused-tensors");
        Assert.True(code == 0, err);
    }

    [SkippableFact]
    public void AnUnusedTensorIsNamedButKnownBuffersAreIgnored()
    {
        var extra = new TensorData("model.extra_head.weight", DType.F32, [2, 2], new byte[16]);
        using (var folder = Copy(SharedData.Fixture("llama"), tensors: t => [.. t, extra]))
        {
            var e = Assert.Throws<ModelFileException>(() => Transformer.Load(folder.Path).Dispose());
            Assert.Contains("tensor 'model.extra_head.weight' is not used by a llama model", e.Message);
        }
        var buffer = new TensorData("model.layers.0.self_attn.rotary_emb.inv_freq", DType.F32, [4], new byte[16]);
        using (var folder = Copy(SharedData.Fixture("llama"), tensors: t => [.. t, buffer]))
            Transformer.Load(folder.Path).Dispose();
    }

    [SkippableFact]
    public void GenerationPastTheContextIsRefusedBeforeAnythingRuns()
    {
        using var model = Transformer.Load(SharedData.Fixture("llama")); // 256 positions
        foreach (int max in new[] { 1_000_000_000, int.MaxValue, 255 })
        {
            var e = Assert.Throws<NativeLayersException>(() => new Generator(model).Generate([[1, 2]], new GenerationOptions { MaxNewTokens = max }));
            Assert.Contains("past the 256 positions", e.Message);
            Assert.Contains("--allow-overflow-context", e.Message);
        }
        var prompt = Enumerable.Range(0, 250).Select(i => 3 + i % 300).ToArray();
        var output = new Generator(model).Generate([prompt], new GenerationOptions { MaxNewTokens = 10, StopTokens = [], AllowContextOverflow = true })[0];
        Assert.Equal(10, output.NewIds.Length);

        using var gpt2 = Transformer.Load(SharedData.Fixture("gpt2")); // 64 learned positions: no way past them
        var learned = Assert.Throws<NativeLayersException>(() => new Generator(gpt2).Generate([Enumerable.Range(1, 60).ToArray()],
            new GenerationOptions { MaxNewTokens = 10, StopTokens = [], AllowContextOverflow = true }));
        Assert.Contains("beyond the 64 learned positions", learned.Message);
    }

    [SkippableFact]
    public void AForwardPastTheContextNeedsAnExplicitAllowance()
    {
        using var model = Transformer.Load(SharedData.Fixture("llama"));
        var tokens = Enumerable.Range(0, 257).Select(i => 3 + i % 300).ToArray();
        var e = Assert.Throws<NativeLayersException>(() => model.Forward([tokens]));
        Assert.Contains("past the 256 positions", e.Message);
        Assert.Equal(257, model.Forward([tokens], new ForwardOptions { AllowContextOverflow = true }).Residual.Rows);
    }

    [SkippableTheory]
    [InlineData("1000000000")]
    [InlineData("2147483647")]
    public void TheCliRefusesHugeGenerationsWithOneLine(string maxTokens)
    {
        var (code, _, err) = CliTests.Run("generate", "--model", SharedData.Fixture("llama"), "--ids", "1,2", "--max-tokens", maxTokens);
        Assert.Equal(1, code);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("past the 256 positions", err);
    }

    [SkippableFact]
    public void NonFiniteValuesAreAnErrorNamingTheFirstSlot()
    {
        using var folder = Copy(SharedData.Fixture("llama"), tensors: all => all.Select(t =>
        {
            if (t.Name != "model.layers.1.mlp.down_proj.weight") return t;
            var bytes = t.Bytes.ToArray();
            BitConverter.GetBytes(float.NaN).CopyTo(bytes, 0);
            return t with { Bytes = bytes };
        }).ToList());
        var (code, _, err) = CliTests.Run("hidden", "--model", folder.Path, "--ids", "1,2,3", "--out", folder.File("h.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("first in residual slot 2 (the output of block 1)", err);
        Assert.False(File.Exists(folder.File("h.safetensors")));
        (code, _, err) = CliTests.Run("generate", "--model", folder.Path, "--ids", "1,2,3", "--max-tokens", "3");
        Assert.Equal(1, code);
        Assert.Contains("first in residual slot 2 (the output of block 1)", err);
    }

    [SkippableFact]
    public void APromptFileCarriesTheWholePromptAndLongForwardsReportEveryBlock()
    {
        using var folder = new TempFolder();
        string text = string.Concat(Enumerable.Repeat("Once upon a time there was a little girl. ", 20));
        File.WriteAllText(folder.File("prompt.txt"), text);
        var (code, _, err) = CliTests.Run("hidden", "--model", SharedData.Model("stories260k"), "--prompt-file", folder.File("prompt.txt"), "--out", folder.File("a.safetensors"));
        Assert.True(code == 0, err);
        (code, _, err) = CliTests.Run("hidden", "--model", SharedData.Model("stories260k"), "--prompt", text, "--out", folder.File("b.safetensors"));
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllBytes(folder.File("b.safetensors")), File.ReadAllBytes(folder.File("a.safetensors")));
        (code, var output, err) = CliTests.Run("lens", "--model", SharedData.Model("stories260k"), "--prompt-file", folder.File("prompt.txt"));
        Assert.True(code == 0, err);
        Assert.Contains("slot", output);

        using var model = Transformer.Load(SharedData.Model("stories260k"));
        var reports = new List<(int Done, int Total)>();
        model.Forward([model.Tokenizer.Encode(text)], new ForwardOptions { LayerProgress = new SynchronousProgress<(int Done, int Total)>(reports.Add) });
        Assert.Equal(Enumerable.Range(1, model.Layers).Select(i => (i, model.Layers)), reports);
    }
}
