using System.Text.Json;
using NativeLayers.Cli;
using NativeLayers.Loading;

namespace NativeLayers.Tests;

/// <summary>The `nl` commands end to end, in process.</summary>
public class CliTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [SkippableTheory]
    [InlineData("llama")]
    [InlineData("gemma")]
    [InlineData("phi3")]
    public void HiddenWritesEverySlotAndLogitsAsTheGoldens(string fixture)
    {
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture(fixture), "golden_single.safetensors"));
        var ids = golden.ReadInt64("input_ids");
        string path = Path.Combine(Path.GetTempPath(), $"nl-hidden-{fixture}-{Guid.NewGuid():N}.safetensors");
        try
        {
            var (code, _, err) = Run("hidden", "--model", SharedData.Fixture(fixture), "--ids", string.Join(",", ids), "--out", path);
            Assert.True(code == 0, err);
            using var written = SafetensorsFile.Open(path);
            int layers = written.Tensors.Count(t => t.Name.StartsWith("resid.")) - 1;
            for (int i = 0; i < layers; i++)
                SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{i}"), written.ReadFloat32($"resid.{i}"), $"resid.{i}");
            SharedData.AssertClose(golden.ReadFloat32("residual_final_prenorm"), written.ReadFloat32($"resid.{layers}"), "resid.L");
            SharedData.AssertClose(golden.ReadFloat32("logits"), written.ReadFloat32("logits"), "logits");
            Assert.Equal([ids.Length, golden.Get("hidden_states.0").Shape[2]], written.Get("resid.0").Shape);
            Assert.Equal(DType.F32, written.Get("logits").DType);
        }
        finally { File.Delete(path); }
    }

    [SkippableFact]
    public void HiddenTakesTokenTypesForBert()
    {
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture("bert"), "golden_single.safetensors"));
        string path = Path.Combine(Path.GetTempPath(), $"nl-hidden-bert-{Guid.NewGuid():N}.safetensors");
        try
        {
            var (code, _, err) = Run("hidden", "--model", SharedData.Fixture("bert"), "--ids", string.Join(",", golden.ReadInt64("input_ids")),
                "--token-types", string.Join(",", golden.ReadInt64("token_type_ids")), "--out", path);
            Assert.True(code == 0, err);
            using var written = SafetensorsFile.Open(path);
            SharedData.AssertClose(golden.ReadFloat32("last_hidden_state"), written.ReadFloat32("resid.2"), "last hidden state");
            SharedData.AssertClose(golden.ReadFloat32("pooler_output"), written.ReadFloat32("pooler_output"), "pooler");
            Assert.False(written.Contains("logits"));
        }
        finally { File.Delete(path); }
    }

    [SkippableTheory]
    [InlineData("gpt2")]
    [InlineData("gpt2-bare")]
    [InlineData("gpt_neox")]
    [InlineData("bert-pretraining")]
    [InlineData("mistral-swa")]
    public void InspectDescribesEveryFixture(string fixture)
    {
        var (code, output, err) = Run("inspect", "--model", SharedData.Fixture(fixture));
        Assert.True(code == 0, err);
        Assert.Contains("parameters", output);
    }

    [SkippableFact]
    public void GenerateWithIdsPrintsTheGreedyTokens()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Fixture("qwen2"), "generate.json")));
        var prompt = doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32());
        var expected = doc.RootElement.GetProperty("new_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var (code, output, err) = Run("generate", "--model", SharedData.Fixture("qwen2"), "--ids", string.Join(",", prompt), "--max-tokens", expected.Length.ToString());
        Assert.True(code == 0, err);
        Assert.Equal(string.Join(",", expected), output.Trim());
    }

    [SkippableFact]
    public void GenerateTellsTheGoldenStory()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Golden("stories260k"), "greedy.json")));
        var first = doc.RootElement.GetProperty("cases")[0];
        var (code, output, err) = Run("generate", "--model", SharedData.Model("stories260k"), "--prompt", first.GetProperty("prompt").GetString()!,
            "--max-tokens", "64", "--show-layers");
        Assert.True(code == 0, err);
        Assert.StartsWith(first.GetProperty("full_text").GetString() + "\n", output);
        Assert.Contains("block 4 (final)", output);
        Assert.Contains("tokens/s", err);
    }

    [SkippableFact]
    public void GenerateBatchFromAPromptFile()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Golden("stories260k"), "greedy.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().Take(3).ToArray();
        string file = Path.Combine(Path.GetTempPath(), $"nl-prompts-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(file, cases.Select(c => c.GetProperty("prompt").GetString()!));
        try
        {
            var (code, output, err) = Run("generate", "--model", SharedData.Model("stories260k"), "--prompts", file, "--max-tokens", "64");
            Assert.True(code == 0, err);
            for (int i = 0; i < cases.Length; i++)
                Assert.Contains($"[{i + 1}] {cases[i].GetProperty("full_text").GetString()}", output);
        }
        finally { File.Delete(file); }
    }

    [SkippableFact]
    public void TokenizeWorksOnAFolderWithOnlyATokenizerJson()
    {
        string folder = Path.Combine(SharedData.Root, "tokenizers", "gpt2");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "golden.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray().Take(10))
        {
            string text = c.GetProperty("text").GetString()!;
            if (text.Contains("<|endoftext|>")) continue; // the reference encoder does not treat it as special (see golden.json's note)
            var (code, output, err) = Run("tokenize", "--model", folder, "--text", text);
            Assert.True(code == 0, err);
            Assert.Equal(string.Join(",", c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())), output.Trim());
        }
    }

    [SkippableFact]
    public void TokenizeAndInspect()
    {
        var (code, output, _) = Run("tokenize", "--model", SharedData.Model("stories260k"), "--text", "Once upon a time");
        Assert.Equal(0, code);
        Assert.Equal("1,403,407,261,378", output.Trim());
        (code, output, _) = Run("inspect", "--model", SharedData.Model("stories260k"));
        Assert.Equal(0, code);
        Assert.Contains("260,032", output);
        Assert.Contains("8 heads / 4 kv heads", output);
        Assert.Contains("SentencePiece", output);
    }

    [SkippableFact]
    public void BenchPrintsPrefillAndDecodeRates()
    {
        var (code, output, err) = Run("bench", "--model", SharedData.Model("stories260k"), "--prompt-tokens", "16", "--gen-tokens", "4",
            "--batch", "2", "--repetitions", "2", "--threads", "2");
        Assert.True(code == 0, err);
        Assert.Contains("pp16", output);
        Assert.Contains("tg4", output);
        Assert.Matches(@"peak resident memory \d+(\.\d+)? [KMG]iB", output);
        if (File.Exists("/proc/self/status")) Assert.Matches(@"\d+(\.\d+)? [KMG]iB file-backed", output);
    }

    [Fact]
    public void BenchOverheadsPricesEveryFeatureWithAnInterval()
    {
        var (code, output, err) = Run("bench", "--model", ReferenceData.Stories260k, "--prompt-tokens", "8", "--gen-tokens", "2",
            "--repetitions", "1", "--threads", "2", "--overheads", "--budget", "60", "--precision", "1e9");
        Assert.True(code == 0, err);
        foreach (string feature in new[] { "steer 1 layer", "steer every layer", "per-sequence", "capture all slots", "capture to disk" })
            Assert.Contains(feature, output);
        Assert.Contains("95% interval", output);
        Assert.Matches(@"\| (prefill|decode) +\| 1 +\| 8 +\|", output); // phase, batch, the minimum 8 pairs

        (code, _, err) = Run("bench", "--model", ReferenceData.Stories260k, "--overheads", "--precision", "0", "-r", "1", "--prompt-tokens", "4", "--gen-tokens", "0");
        Assert.Equal(1, code);
        Assert.Contains("--precision must be a positive percentage", err);
    }

    [Fact]
    public void BenchOverheadsPricesAnSaeSplice()
    {
        using var temp = new TempFolder();
        string sae = Directory.CreateDirectory(temp.File("sae")).FullName;
        const int width = 64, features = 128;
        var random = new Random(4);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) * 0.2f).ToArray();
        File.WriteAllText(Path.Combine(sae, "cfg.json"), $"{{\"architecture\": \"standard\", \"d_in\": {width}, \"d_sae\": {features}, \"meta\": {{\"hook_name\": \"blocks.2.hook_resid_post\"}}}}");
        Loading.SafetensorsWriter.Write(Path.Combine(sae, "sae_weights.safetensors"), [
            Loading.TensorData.FromFloats("W_enc", [width, features], Values(width * features)), Loading.TensorData.FromFloats("b_enc", [features], Values(features)),
            Loading.TensorData.FromFloats("W_dec", [features, width], Values(features * width)), Loading.TensorData.FromFloats("b_dec", [width], Values(width))]);
        var (code, output, err) = Run("bench", "--model", ReferenceData.Stories260k, "--prompt-tokens", "8", "--gen-tokens", "2", "--repetitions", "1",
            "--overheads", "--no-disk", "--sae", sae, "--budget", "60", "--precision", "1e9");
        Assert.True(code == 0, err);
        Assert.Matches(@"\| SAE splice +\| prefill +\| 1 +\| 8 +\|", output);
        Assert.DoesNotContain("capture to disk", output);
        Assert.Contains($"{4 * width * features:N0}", output); // the analytic flops per token: encode and decode

        (code, _, err) = Run("bench", "--model", ReferenceData.Stories260k, "--sae", sae, "-r", "1", "--prompt-tokens", "4", "--gen-tokens", "0");
        Assert.Equal(1, code);
        Assert.Contains("add --overheads", err);
    }

    [Fact]
    public void WithoutModelTheBuiltInStories260kIsUsed()
    {
        var (code, output, err) = Run("inspect");
        Assert.True(code == 0, err);
        Assert.Contains("stories260k", output);
        (code, output, err) = Run("tokenize", "--text", "Once upon a time");
        Assert.True(code == 0, err);
        Assert.Equal("1,403,407,261,378", output.Trim());
    }

    [SkippableTheory]
    [InlineData(1, "model folder not found", "generate", "--model", "/no/such/folder", "--prompt", "x")]
    [InlineData(1, "no tokenizer", "generate", "--model", "{fixture}", "--prompt", "x")]
    [InlineData(1, "outside the vocabulary", "hidden", "--model", "{fixture}", "--ids", "1,100000", "--out", "/tmp/never.safetensors")]
    [InlineData(1, "not a non-negative integer", "hidden", "--model", "{fixture}", "--ids", "1,x", "--out", "/tmp/never.safetensors")]
    [InlineData(1, "exactly one of --prompt", "hidden", "--model", "{fixture}", "--out", "/tmp/never.safetensors")]
    [InlineData(1, "temperature must be", "generate", "--model", "{fixture}", "--ids", "1", "--temperature", "-1")]
    [InlineData(2, "Unrecognized", "generate", "--model", "{fixture}", "--bogus")]
    [InlineData(2, "--out", "hidden", "--prompt", "x")]
    public void BadInputGivesOneClearLine(int expectedCode, string expectedText, params string[] args)
    {
        var (code, _, err) = Run(args.Select(a => a.Replace("{fixture}", SharedData.Fixture("llama"))).ToArray());
        Assert.Equal(expectedCode, code);
        Assert.Contains(expectedText, err);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }
}

/// <summary>Capture, vector extraction and steering from the command line.</summary>
public class CliSteeringTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static string WritePairs(string dir)
    {
        string path = Path.Combine(dir, "pairs.jsonl");
        string[] happy = ["Lily was very happy.", "Tom was glad to play.", "The sun was bright and warm.", "Mia loved her toy.", "The dog was happy."];
        string[] sad = ["Lily was very sad.", "Tom was sad to go.", "The sky was dark and cold.", "Mia lost her toy.", "The dog was sad."];
        File.WriteAllLines(path, happy.Zip(sad).Select(p => JsonSerializer.Serialize(new { positive = p.First, negative = p.Second })));
        return path;
    }

    [SkippableFact]
    public void SteerOptionOnHiddenEqualsTheLibraryPlan()
    {
        string dir = Directory.CreateTempSubdirectory("nl-cli-steer-").FullName;
        try
        {
            var vector = Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i)).ToArray();
            var vectors = new NativeLayers.Analysis.Steering.SteeringVectorSet(64);
            vectors.Set(1, vector);
            string onlyLayer1 = Path.Combine(dir, "one.safetensors");
            NativeLayers.Analysis.Steering.SafetensorsSteeringFile.Write(onlyLayer1, vectors);
            vectors.Set(0, vector.Select(v => -v).ToArray());
            string file = Path.Combine(dir, "v.safetensors");
            NativeLayers.Analysis.Steering.SafetensorsSteeringFile.Write(file, vectors);
            string output = Path.Combine(dir, "h.safetensors");
            var (code, _, err) = Run("hidden", "--model", SharedData.Fixture("llama"), "--ids", "1,5,9,13", "--steer", $"{file}@1*4.0", "--steer", $"{file}@0-1*-0.5", "--out", output);
            Assert.True(code == 0, err);

            using var model = NativeLayers.Runtime.Transformer.Load(SharedData.Fixture("llama"));
            var plan = new NativeLayers.Runtime.Hooks.SteeringPlan().AddVector(1, vector, 4f).AddVector(0, vectors[0].ToArray(), -0.5f).AddVector(1, vector, -0.5f);
            var expected = model.Forward([[1, 5, 9, 13]], new NativeLayers.Runtime.ForwardOptions { Steering = plan });
            using var written = SafetensorsFile.Open(output);
            SharedData.AssertClose(expected.Residual.Slot(1), written.ReadFloat32("resid.1"), "steered resid.1", 1e-5f, 1e-5f);
            SharedData.AssertClose(expected.Residual.Slot(2), written.ReadFloat32("resid.2"), "steered resid.2", 1e-5f, 1e-5f);
            SharedData.AssertClose(expected.Logits, written.ReadFloat32("logits"), "steered logits", 1e-5f, 1e-5f);

            Assert.Contains("no vector for layer 0", Run("hidden", "--model", SharedData.Fixture("llama"), "--ids", "1", "--steer", $"{onlyLayer1}@0*1", "--out", output).Err);
            Assert.Contains("width", Run("hidden", "--model", SharedData.Fixture("qwen2"), "--ids", "1", "--steer", $"{file}@1*1", "--out", output).Err);
            Assert.Contains("FILE@LAYER", Run("hidden", "--model", SharedData.Fixture("llama"), "--ids", "1", "--steer", file, "--out", output).Err);
            Assert.Contains("not found", Run("hidden", "--model", SharedData.Fixture("llama"), "--ids", "1", "--steer", "/nope.safetensors@1*1", "--out", output).Err);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableFact]
    public void ExtractThenSweepThenGenerateWithGguf()
    {
        string dir = Directory.CreateTempSubdirectory("nl-cli-vector-").FullName;
        try
        {
            string pairs = WritePairs(dir), gguf = Path.Combine(dir, "happy.gguf"), st = Path.Combine(dir, "happy.safetensors");
            var (code, output, err) = Run("vector", "extract", "--model", SharedData.Model("stories260k"), "--pairs", pairs, "--method", "pca", "--layers", "1-4", "--out", gguf);
            Assert.True(code == 0, err);
            Assert.Contains("held-out", output);
            (code, _, err) = Run("vector", "extract", "--model", SharedData.Model("stories260k"), "--pairs", pairs, "--method", "mean", "--position", "mean", "--out", st);
            Assert.True(code == 0, err);
            var fromGguf = NativeLayers.Analysis.Steering.SteeringVectorSet.Load(gguf);
            Assert.Equal([1, 2, 3, 4], fromGguf.Layers);

            (code, output, err) = Run("steer", "sweep", "--model", SharedData.Model("stories260k"), "--vector", st, "--layers", "2-3",
                "--coefficients", "-2,0,2", "--prompt", "Once upon a time", "--max-tokens", "8");
            Assert.True(code == 0, err);
            // One row per coefficient: KL 0 exactly at coefficient 0 (the base model itself), above 0 at ±2.
            var rows = output.Split('\n').Select(l => l.Split('│', StringSplitOptions.TrimEntries)).Where(c => c.Length > 3 && c[1] is "-2" or "0" or "2")
                .ToDictionary(c => c[1], c => double.Parse(c[2], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(3, rows.Count);
            Assert.Equal(0, rows["0"]);
            Assert.True(rows["-2"] > 0 && rows["2"] > 0);
            (code, _, err) = Run("generate", "--model", SharedData.Model("stories260k"), "--prompt", "Once upon a time", "-n", "8", "--steer", $"{gguf}@2*1.5");
            Assert.True(code == 0, err);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableFact]
    public void CaptureWritesShardsAndResumes()
    {
        string dir = Directory.CreateTempSubdirectory("nl-cli-capture-").FullName;
        try
        {
            string prompts = Path.Combine(dir, "prompts.txt");
            File.WriteAllLines(prompts, ["Once upon a time", "The little girl", "Tom and his dog"]);
            string output = Path.Combine(dir, "out");
            var (code, text, err) = Run("capture", "--model", SharedData.Model("stories260k"), "--input", prompts, "--points", "resid_post,mlp_out",
                "--layers", "0,-1", "--reduce", "mean", "--shard-size", "2", "--out", output);
            Assert.True(code == 0, err);
            Assert.Contains("2 shard(s)", text);
            using (var shard = SafetensorsFile.Open(Path.Combine(output, "shard-00000.safetensors")))
                Assert.Equal([2L, 64], shard.Get("blocks.4.hook_mlp_out").Shape);
            (code, text, _) = Run("capture", "--model", SharedData.Model("stories260k"), "--input", prompts, "--points", "resid_post,mlp_out",
                "--layers", "0,-1", "--reduce", "mean", "--shard-size", "2", "--out", output);
            Assert.Equal(0, code);
            Assert.Contains("already done", text);
            Assert.Contains("out of range", Run("capture", "--model", SharedData.Model("stories260k"), "--input", prompts, "--layers", "7", "--out", output).Err);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
