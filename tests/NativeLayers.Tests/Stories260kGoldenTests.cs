using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Generation;

namespace NativeLayers.Tests;

/// <summary>stories260k (a real trained Llama) against llama2.c's run.c, in float32, float16 and bfloat16.</summary>
public class Stories260kGoldenTests
{
    public static TheoryData<string, string> Folders() => TestDevices.Each("stories260k", "stories260k-f16", "stories260k-bf16");

    private sealed record GreedyCase(string Prompt, int[] InputIds, int[] GeneratedIds, string ContinuationText);

    private static List<GreedyCase> ReadGreedy(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Golden(folder), "greedy.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new GreedyCase(
            c.GetProperty("prompt").GetString()!,
            c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("continuation_text").GetString()!)).ToList();
    }

    [SkippableTheory]
    [MemberData(nameof(Folders))]
    public void EveryPromptContinuesTokenForTokenWithMatchingLogits(string folder, string device)
    {
        using var model = TestDevices.Load(SharedData.Model(folder), device);
        using var logitsGolden = SafetensorsFile.Open(Path.Combine(SharedData.Golden(folder), "greedy_logits.safetensors"));
        var cases = ReadGreedy(folder);
        // ILGPU's CPU emulator costs ~10 ms per kernel launch (~0.8 s per stories260k step): there the first case's first
        // 12 tokens, token for token with their logits; prefill of every case is checked by ResidualStreamMatchesRunC.
        if (device != TestDevices.Cpu) cases = [cases[0] with { GeneratedIds = cases[0].GeneratedIds[..12] }];
        for (int k = 0; k < cases.Count; k++)
        {
            var c = cases[k];
            Assert.Equal(c.InputIds, model.Tokenizer.Encode(c.Prompt));
            var output = new Generator(model).Generate([c.InputIds], new GenerationOptions { MaxNewTokens = c.GeneratedIds.Length, StopTokens = [] })[0];
            Assert.Equal(c.GeneratedIds, output.NewIds);

            // Row t of the golden = logits after feeding ids[t]; prompt rows from one prefill, the rest from decode steps.
            var golden = logitsGolden.ReadFloat32($"case{k}.logits");
            int vocab = model.VocabSize, promptLength = c.InputIds.Length;
            var prefill = model.Forward([c.InputIds]);
            for (int t = 0; t < promptLength; t++)
                SharedData.AssertClose(golden.AsSpan(t * vocab, vocab), prefill.LogitsRow(t), $"{folder} case {k} prompt row {t}");
            var steps = GreedyDecoder.StepLogits(model, c.InputIds, c.GeneratedIds);
            for (int s = 1; s < steps.Count; s++)
                SharedData.AssertClose(golden.AsSpan((promptLength - 1 + s) * vocab, vocab), steps[s], $"{folder} case {k} step {s}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Folders))]
    public void ResidualStreamMatchesRunC(string folder, string device)
    {
        using var model = TestDevices.Load(SharedData.Model(folder), device);
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Golden(folder), "hidden_states.safetensors"));
        var ids = golden.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        var result = model.Forward([ids]);
        for (int i = 0; i < model.Layers; i++)
            SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{i}"), result.Residual.Slot(i), $"{folder} slot {i}");
        SharedData.AssertClose(golden.ReadFloat32("residual_final_prenorm"), result.Residual.Slot(-1), $"{folder} raw final residual");
        SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{model.Layers}"), model.FinalNorm(result.Residual.Slot(-1)), $"{folder} final norm");
        SharedData.AssertClose(golden.ReadFloat32("logits"), result.Logits, $"{folder} logits");
    }

    [SkippableFact]
    public void ContinuationTextDecodesAsSentencePieceDoes()
    {
        using var model = Transformer.Load(SharedData.Model("stories260k"));
        foreach (var c in ReadGreedy("stories260k"))
            Assert.Equal(c.ContinuationText, model.Tokenizer.DecodeContinuation(c.InputIds, c.GeneratedIds));
    }

    [SkippableFact]
    public void BatchedGenerationEqualsSeparateRuns()
    {
        using var model = Transformer.Load(SharedData.Model("stories260k"));
        var cases = ReadGreedy("stories260k");
        var generator = new Generator(model);
        var options = new GenerationOptions { MaxNewTokens = 20, StopTokens = [] };
        var together = generator.Generate(cases.Select(c => c.InputIds).ToArray(), options);
        for (int i = 0; i < cases.Count; i++)
            Assert.Equal(cases[i].GeneratedIds.Take(20), together[i].NewIds);

        var sampling = options with { Temperature = 0.8f, TopK = 40, TopP = 0.9f, Seed = 7 };
        var sampledTogether = generator.Generate(cases.Select(c => c.InputIds).ToArray(), sampling);
        var sampledAgain = generator.Generate(cases.Select(c => c.InputIds).ToArray(), sampling);
        for (int i = 0; i < cases.Count; i++)
            Assert.Equal(sampledTogether[i].NewIds, sampledAgain[i].NewIds);
    }
}
