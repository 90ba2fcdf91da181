using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>The forward pass against Hugging Face transformers' own outputs for every decoder fixture.</summary>
public class DecoderGoldenTests
{
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var fixture in new[] { "llama", "llama-f16", "llama-bf16", "llama-rope-linear", "llama-rope-llama3", "qwen2", "qwen2-rope-yarn", "phi3-longrope", "qwen3", "olmo2", "gemma2", "gemma3", "mixtral", "mistral", "mistral-swa", "gemma", "phi3", "gpt2", "gpt2-bare", "gpt_neox" })
            foreach (var golden in new[] { "golden.safetensors", "golden_single.safetensors" })
                foreach (var device in TestDevices.All)
                    data.Add(fixture, golden, device);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void HiddenStatesAndLogitsMatchTransformers(string fixture, string goldenFile, string device)
    {
        using var model = TestDevices.Load(SharedData.Fixture(fixture), device);
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture(fixture), goldenFile));
        var batch = SharedData.Rows(golden.ReadInt64("input_ids"), SharedData.ShapeOf(golden, "input_ids"));
        var result = model.Forward(batch);
        int layers = model.Layers;

        for (int i = 0; i < layers; i++)
            SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{i}"), result.Residual.Slot(i), $"{fixture} slot {i}");
        SharedData.AssertClose(golden.ReadFloat32("residual_final_prenorm"), result.Residual.Slot(layers), $"{fixture} raw final residual");
        SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{layers}"), model.FinalNorm(result.Residual.Slot(layers)), $"{fixture} final norm");
        SharedData.AssertClose(golden.ReadFloat32("logits"), result.Logits, $"{fixture} logits");
    }

    public static TheoryData<string, string> GenerationFixtures() =>
        TestDevices.Each("llama", "llama-rope-linear", "llama-rope-llama3", "qwen2", "qwen2-rope-yarn", "phi3-longrope", "qwen3", "olmo2", "gemma2", "gemma3", "mixtral", "mistral", "mistral-swa", "gemma", "phi3", "gpt2", "gpt_neox", "mamba");

    [SkippableTheory]
    [MemberData(nameof(GenerationFixtures))]
    public void GreedyGenerationWithKvCacheMatchesTransformers(string fixture, string device)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Fixture(fixture), "generate.json")));
        int[] prompt = doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] expected = doc.RootElement.GetProperty("new_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var model = TestDevices.Load(SharedData.Fixture(fixture), device);
        var output = new Generator(model).Generate([prompt], new GenerationOptions { MaxNewTokens = expected.Length })[0];
        Assert.Equal(expected, output.NewIds);

        using var scores = SafetensorsFile.Open(Path.Combine(SharedData.Fixture(fixture), "generate_scores.safetensors"));
        var stepLogits = GreedyDecoder.StepLogits(model, prompt, expected);
        var golden = scores.ReadFloat32("scores");
        for (int step = 0; step < expected.Length; step++)
            SharedData.AssertClose(golden.AsSpan(step * model.VocabSize, model.VocabSize), stepLogits[step], $"{fixture} step {step} logits");
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void MixtralRouterLogitsAndExpertChoicesAreCapturable(string device)
    {
        using var model = TestDevices.Load(SharedData.Fixture("mixtral"), device);
        foreach (var goldenFile in new[] { "golden.safetensors", "golden_single.safetensors" })
        {
            using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture("mixtral"), goldenFile));
            var batch = SharedData.Rows(golden.ReadInt64("input_ids"), SharedData.ShapeOf(golden, "input_ids"));
            var hooks = Enumerable.Range(0, model.Layers).SelectMany(l => new[] { new HookId(HookPoint.RouterLogits, l), new HookId(HookPoint.ExpertIds, l) }).ToList();
            var result = model.Forward(batch, new ForwardOptions { Capture = hooks });
            for (int l = 0; l < model.Layers; l++)
            {
                var expected = golden.ReadFloat32($"router_logits.{l}");
                var logits = result.Read(new HookId(HookPoint.RouterLogits, l));
                SharedData.AssertClose(expected, logits, $"{goldenFile} router logits {l}");
                // The chosen experts are the two largest logits of every token (softmax keeps the order).
                var chosen = result.Read(new HookId(HookPoint.ExpertIds, l));
                for (int r = 0; r < expected.Length / 4; r++)
                {
                    var top = expected.AsSpan(r * 4, 4).ToArray().Select((z, e) => (z, e)).OrderByDescending(p => p.z).Take(2).Select(p => (float)p.e);
                    Assert.Equal(top, chosen.Slice(r * 2, 2).ToArray());
                }
            }
        }
        Assert.Equal("blocks.1.mlp.hook_router_logits", HookId.Parse("blocks.1.mlp.hook_router_logits", model.Layers).Name);
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void LongRopeSwitchesFactorsWithTheSequenceLengthAndRefusesToCrossOverACachedShortSequence(string device)
    {
        string fixture = SharedData.Fixture("phi3-longrope");
        using var model = TestDevices.Load(fixture, device);
        using var golden = SafetensorsFile.Open(Path.Combine(fixture, "golden_single.safetensors"));
        int[] ids = golden.ReadInt64("input_ids").Select(x => (int)x).ToArray(); // 11 tokens > 8: the long factors
        var logits = golden.ReadFloat32("logits");

        // Cached past the original context from the start: 9 then 2 tokens give the full pass's last logits.
        var sequence = model.NewSequence();
        model.Forward([sequence], [ids[..9]], LogitsMode.None);
        var last = model.Forward([sequence], [ids[9..]], LogitsMode.LastPerSequence);
        SharedData.AssertClose(logits.AsSpan((ids.Length - 1) * model.VocabSize, model.VocabSize), last.LastLogits(0), "last logits after a cached prefix");

        var shortPrefix = model.NewSequence();
        model.Forward([shortPrefix], [ids[..5]], LogitsMode.None);
        var crossing = Assert.Throws<NativeLayersException>(() => model.Forward([shortPrefix], [ids[5..]], LogitsMode.LastPerSequence));
        Assert.Contains("original_max_position_embeddings (8)", crossing.Message);
        var mixed = Assert.Throws<NativeLayersException>(() => model.Forward([ids[..5], ids]));
        Assert.Contains("separate calls", mixed.Message);
    }
}
