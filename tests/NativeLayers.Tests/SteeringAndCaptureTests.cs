using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>Hook points, capture and steering: against the goldens and against the resume-from-layer entry point.</summary>
public class SteeringAndCaptureTests
{
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 260, 300];

    private static float[] RandomVector(int width, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [SkippableTheory]
    [InlineData("llama", TestDevices.Cpu)]
    [InlineData("gpt2", TestDevices.Cpu)]
    [InlineData("gpt_neox", TestDevices.Cpu)]
    [InlineData("gemma", TestDevices.Cpu)]
    [InlineData("llama", TestDevices.IlgpuCpu)]
    [InlineData("gpt2", TestDevices.IlgpuCpu)]
    [InlineData("gpt_neox", TestDevices.IlgpuCpu)]
    [InlineData("gemma", TestDevices.IlgpuCpu)]
    public void SubLayerCapturesMatchTheGoldenDebugTensors(string fixture, string device)
    {
        using var model = TestDevices.Load(SharedData.Fixture(fixture), device);
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture(fixture), "golden_single.safetensors"));
        var ids = golden.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        var capture = new List<HookId> { HookId.FinalNormalized };
        for (int l = 0; l < model.Layers; l++) capture.AddRange([new(HookPoint.AttnOut, l), new(HookPoint.MlpOut, l)]);
        var result = model.Forward([ids], new ForwardOptions { Capture = capture });
        for (int l = 0; l < model.Layers; l++)
        {
            SharedData.AssertClose(golden.ReadFloat32($"debug.attn_out.{l}"), result.Read(new HookId(HookPoint.AttnOut, l)), $"attn_out {l}");
            SharedData.AssertClose(golden.ReadFloat32($"debug.mlp_out.{l}"), result.Read(new HookId(HookPoint.MlpOut, l)), $"mlp_out {l}");
            SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{l}"), result.Read(new HookId(HookPoint.ResidPre, l)), $"resid_pre {l}");
        }
        SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{model.Layers}"), result.Read(HookId.FinalNormalized), "ln_final.hook_normalized");
        SharedData.AssertClose(golden.ReadFloat32("residual_final_prenorm"), result.Read(HookId.ResidPost(model.Layers - 1)), "last resid_post");
        // Capturing must not change what the model computes.
        SharedData.AssertClose(golden.ReadFloat32("logits"), result.Logits, "logits with captures");
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void BertResidMidIsTheFirstLayerNormOutput(string device)
    {
        using var model = TestDevices.Load(SharedData.Fixture("bert"), device);
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture("bert"), "golden_single.safetensors"));
        var ids = golden.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        var types = golden.ReadInt64("token_type_ids").Select(x => (int)x).ToArray();
        var result = model.Forward([ids], new ForwardOptions { TokenTypes = [types], Capture = [new(HookPoint.ResidMid, 0), new(HookPoint.ResidMid, 1)] });
        for (int l = 0; l < 2; l++)
            SharedData.AssertClose(golden.ReadFloat32($"debug.attn_out.{l}"), result.Read(new HookId(HookPoint.ResidMid, l)), $"resid_mid {l}");
    }

    [SkippableTheory]
    [InlineData("stories260k", 1, TestDevices.Cpu)]
    [InlineData("stories260k", 4, TestDevices.Cpu)]
    [InlineData("gpt_neox", 0, TestDevices.Cpu)]
    [InlineData("bert", 0, TestDevices.Cpu)]
    [InlineData("gemma2", 0, TestDevices.Cpu)]
    [InlineData("olmo2", 1, TestDevices.Cpu)]
    [InlineData("gemma2", 0, TestDevices.IlgpuCpu)]
    [InlineData("mamba", 0, TestDevices.Cpu)]
    [InlineData("mamba", 0, TestDevices.IlgpuCpu)]
    [InlineData("stories260k", 1, TestDevices.IlgpuCpu)]
    [InlineData("gpt_neox", 0, TestDevices.IlgpuCpu)]
    [InlineData("bert", 0, TestDevices.IlgpuCpu)]
    public void SteeredForwardEqualsUnsteeredForwardResumedFromTheModifiedResidual(string name, int layer, string device)
    {
        string dir = name == "stories260k" ? SharedData.Model(name) : SharedData.Fixture(name);
        using var model = TestDevices.Load(dir, device);
        int[] ids = Prompt.Select(i => i % model.VocabSize).ToArray();
        var vector = RandomVector(model.Width, 11);
        var steered = model.Forward([ids], new ForwardOptions { Steering = new SteeringPlan().AddVector(layer, vector, 3f) });
        var plain = model.Forward([ids]);

        for (int slot = 0; slot <= layer; slot++)
            Assert.Equal(plain.Residual.Slot(slot).ToArray(), steered.Residual.Slot(slot).ToArray());
        var modified = plain.Residual.Slot(layer + 1).ToArray();
        for (int t = 0; t < ids.Length; t++) SteeringMath.Add(modified.AsSpan(t * model.Width, model.Width), vector, 3f);
        SharedData.AssertClose(modified, steered.Residual.Slot(layer + 1), "steered slot", 1e-5f, 1e-5f);

        var resumed = model.ForwardFrom(layer + 1, [modified], [ids]);
        for (int slot = layer + 1; slot <= model.Layers; slot++)
            SharedData.AssertClose(resumed.Residual.Slot(slot), steered.Residual.Slot(slot), $"slot {slot}", 1e-5f, 1e-5f);
        if (model.HasLanguageModelHead)
        {
            SharedData.AssertClose(resumed.Logits, steered.Logits, "logits", 1e-5f, 1e-5f);
            Assert.NotEqual(plain.Logits, steered.Logits);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void FoldedAndRowWiseSteeringAgree(string device)
    {
        using var model = TestDevices.Load(SharedData.Model("stories260k"), device);
        var vector = RandomVector(model.Width, 5);
        foreach (var point in new[] { HookPoint.AttnOut, HookPoint.ResidMid, HookPoint.MlpOut, HookPoint.ResidPost })
        {
            var folded = model.Forward([Prompt], new ForwardOptions { Steering = new SteeringPlan().AddVector(2, vector, -2f, point) });
            var rowWise = model.Forward([Prompt], new ForwardOptions { Steering = new SteeringPlan().AddVector(2, vector, -2f, point, TokenSelection.StartingAt(0)) });
            SharedData.AssertClose(rowWise.Logits, folded.Logits, $"{point} logits", 1e-5f, 1e-5f);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void PerSequencePlansInOneBatchEqualSeparateRuns(string device)
    {
        using var model = TestDevices.Load(SharedData.Model("stories260k"), device);
        int[][] batch = [Prompt, [1, 317, 439, 419], [1, 403, 407, 261, 378]];
        SteeringPlan?[] plans =
        [
            new SteeringPlan().AddVector(1, RandomVector(model.Width, 1), 4f),
            null,
            new SteeringPlan().AddVector(3, RandomVector(model.Width, 2), -1.5f, HookPoint.MlpOut, TokenSelection.StartingAt(2))
                .ProjectOut(0, RandomVector(model.Width, 3)),
        ];
        var together = model.Forward(batch, new ForwardOptions { SequenceSteering = plans });
        // A batch of 16 rows and a sequence alone take different matmul kernels on the GPU (tiled vs mat-vec): same sums, other order.
        float tolerance = device == TestDevices.Cpu ? 1e-5f : 5e-5f;
        for (int s = 0; s < batch.Length; s++)
        {
            var alone = model.Forward([batch[s]], new ForwardOptions { Steering = plans[s] });
            for (int slot = 0; slot <= model.Layers; slot++)
                SharedData.AssertClose(alone.Residual.Slot(slot), together.Residual.SequenceSlot(slot, s), $"sequence {s} slot {slot}", tolerance, tolerance);
            SharedData.AssertClose(alone.LastLogits(0), together.LastLogits(s), $"sequence {s} logits", tolerance, tolerance);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void ProjectOutRemovesTheDirectionAtThatPoint(string device)
    {
        using var model = TestDevices.Load(SharedData.Model("stories260k"), device);
        var direction = RandomVector(model.Width, 9);
        var plain = model.Forward([Prompt]).Residual.Slot(3).ToArray();
        var result = model.Forward([Prompt], new ForwardOptions { Steering = new SteeringPlan().ProjectOut(2, direction) });
        var slot = result.Residual.Slot(3);
        double uu = direction.Sum(v => (double)v * v);
        for (int t = 0; t < Prompt.Length; t++)
        {
            var row = plain.AsSpan(t * model.Width, model.Width).ToArray();
            double dot = 0;
            for (int i = 0; i < model.Width; i++) dot += row[i] * (double)direction[i];
            // Only the component along the direction goes: x − (x·u / u·u) u, every other component unchanged.
            var expected = Enumerable.Range(0, model.Width).Select(i => (float)(row[i] - dot / uu * direction[i])).ToArray();
            SharedData.AssertClose(expected, slot.Slice(t * model.Width, model.Width), $"row {t}", 1e-5f, 1e-5f);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void GeneratedOnlySteeringLeavesThePromptAlone(string device)
    {
        using var model = TestDevices.Load(SharedData.Model("stories260k"), device);
        var generator = new Generator(model);
        var vector = RandomVector(model.Width, 4);
        var plain = generator.Generate([Prompt], new GenerationOptions { MaxNewTokens = 12, StopTokens = [] })[0];
        var generatedOnly = generator.Generate([Prompt], new GenerationOptions
        {
            MaxNewTokens = 12, StopTokens = [], Steering = new SteeringPlan().AddVector(3, vector, 30f, tokens: TokenSelection.Generated),
        })[0];
        var everywhere = generator.Generate([Prompt], new GenerationOptions
        {
            MaxNewTokens = 12, StopTokens = [], Steering = new SteeringPlan().AddVector(3, vector, 30f),
        })[0];
        Assert.Equal(plain.NewIds[0], generatedOnly.NewIds[0]); // the first token comes from the unsteered prompt
        Assert.NotEqual(plain.NewIds, generatedOnly.NewIds);
        Assert.NotEqual(plain.NewIds, everywhere.NewIds);
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void AddingToAPlanAfterUseTakesEffect(string device)
    {
        using var model = TestDevices.Load(SharedData.Model("stories260k"), device);
        float[] first = RandomVector(model.Width, 21), second = RandomVector(model.Width, 22);
        var plan = new SteeringPlan().AddVector(2, first, 2f);
        model.Forward([Prompt], new ForwardOptions { Steering = plan });              // validates and caches folded biases
        plan.AddVector(2, second, -3f).AddVector(3, second, 1f);
        var reused = model.Forward([Prompt], new ForwardOptions { Steering = plan });
        var fresh = model.Forward([Prompt], new ForwardOptions { Steering = new SteeringPlan().AddVector(2, first, 2f).AddVector(2, second, -3f).AddVector(3, second, 1f) });
        SharedData.AssertClose(fresh.Logits, reused.Logits, "logits after the plan grew", 1e-6f, 1e-6f);
        plan.AddVector(4, new float[model.Width + 1], 1f);
        Assert.Throws<NativeLayersException>(() => model.Forward([Prompt], new ForwardOptions { Steering = plan }));
    }

    [SkippableFact]
    public void WorkedExampleE12()
    {
        float[] v = [1, 0, 0];
        float[] a = [1, -2, 0.5f], b = [0, 1, 1];
        SteeringMath.Add(a, v, 4);
        SteeringMath.Add(b, v, 4);
        Assert.Equal([5f, -2f, 0.5f], a);
        Assert.Equal([4f, 1f, 1f], b);
        float[] c = [1, -2, 0.5f], e = [0, 1, 1];
        SteeringMath.Add(c, v, 4, preserveNorm: true);
        SteeringMath.Add(e, v, 4, preserveNorm: true);
        Assert.Equal(2.11830, c[0], 4); Assert.Equal(-0.847319, c[1], 5); Assert.Equal(0.211830, c[2], 5);
        Assert.Equal(1.33333, e[0], 4); Assert.Equal(0.333333, e[1], 5); Assert.Equal(0.333333, e[2], 5);
    }

    [SkippableFact]
    public void BadPlansAreRejectedWithClearErrors()
    {
        using var model = Transformer.Load(SharedData.Model("stories260k"));
        void Fails(SteeringPlan plan, string text) =>
            Assert.Contains(text, Assert.Throws<NativeLayersException>(() => model.Forward([Prompt], new ForwardOptions { Steering = plan })).Message);
        Fails(new SteeringPlan().AddVector(1, new float[63], 1f), "has 63 values, but the model's width is 64");
        Fails(new SteeringPlan().AddVector(5, new float[64], 1f), "layer 5 is out of range");
        var nan = new float[64]; nan[3] = float.NaN;
        Fails(new SteeringPlan().AddVector(1, nan, 1f), "NaN");
        Fails(new SteeringPlan().ProjectOut(1, new float[64]), "is zero");
        Fails(new SteeringPlan().AddVector(1, new float[64], float.PositiveInfinity), "coefficient");
        Assert.Contains("not captured", Assert.Throws<NativeLayersException>(() => model.Forward([Prompt]).Read(new HookId(HookPoint.AttnOut, 0)).ToArray()).Message);
        Assert.Throws<NativeLayersException>(() => HookId.Parse("blocks.9.hook_resid_post", model.Layers));
        Assert.Equal(new HookId(HookPoint.ResidPost, 4), HookId.Parse("blocks.-1.hook_resid_post", model.Layers));
        Assert.Equal([0, 1, 2, 4], LayerSelection.Parse("0-2,-1", model.Layers));
    }

    [SkippableFact]
    public void ResidMidDoesNotExistInParallelBlocks()
    {
        using var model = Transformer.Load(SharedData.Fixture("gpt_neox"));
        Assert.Contains("parallel", Assert.Throws<NativeLayersException>(() =>
            model.Forward([[1, 2, 3]], new ForwardOptions { Capture = [new(HookPoint.ResidMid, 0)] })).Message);
    }
}
