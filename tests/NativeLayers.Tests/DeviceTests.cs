using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Backends;
using NativeLayers.Backends.Gpu;
using NativeLayers.Cli;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// The GPU path (ILGPU kernels driven by the device executor) on ILGPU's CPU accelerator: whole-model goldens, and the
/// same steering and capture results as the CPU backend. ILGPU-CPU is an emulator, so the fixtures stay tiny.
/// </summary>
[Collection("IlgpuCpu")]
public class DeviceTests
{
    private static Transformer Load(string dir) => Transformer.Load(dir, BackendChoice.Options(DeviceKind.IlgpuCpu, threads: 0));

    [Theory]
    [InlineData("llama")]
    [InlineData("llama-bf16")]
    [InlineData("qwen2")]
    [InlineData("mistral-swa")]
    [InlineData("gemma")]
    [InlineData("phi3")]
    [InlineData("gpt2")]
    [InlineData("gpt_neox")]
    public void DecoderGoldensOnIlgpuCpu(string fixture)
    {
        using var model = Load(SharedData.Fixture(fixture));
        Assert.Equal(DeviceKind.IlgpuCpu, model.Device);
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture(fixture), "golden.safetensors"));
        var batch = SharedData.Rows(golden.ReadInt64("input_ids"), SharedData.ShapeOf(golden, "input_ids"));
        var result = model.Forward(batch);
        for (int i = 0; i < model.Layers; i++)
            SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{i}"), result.Residual.Slot(i), $"{fixture} slot {i}");
        SharedData.AssertClose(golden.ReadFloat32("residual_final_prenorm"), result.Residual.Slot(model.Layers), $"{fixture} final residual");
        SharedData.AssertClose(golden.ReadFloat32("logits"), result.Logits, $"{fixture} logits");
    }

    [Fact]
    public void BertGoldenOnIlgpuCpu()
    {
        using var model = Load(SharedData.Fixture("bert"));
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture("bert"), "golden_single.safetensors"));
        var ids = golden.ReadInt64("input_ids").Select(x => (int)x).ToArray();
        var types = golden.ReadInt64("token_type_ids").Select(x => (int)x).ToArray();
        var result = model.Forward([ids], LogitsMode.None, [types]);
        for (int i = 0; i < model.Layers; i++)
            SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{i}"), result.Residual.Slot(i), $"bert slot {i}");
        SharedData.AssertClose(golden.ReadFloat32("last_hidden_state"), result.Residual.Slot(model.Layers), "bert last");
        SharedData.AssertClose(golden.ReadFloat32("pooler_output"), model.PooledOutput(result.Residual), "bert pooler");
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    [InlineData("gpt_neox")]
    public void GreedyGenerationOnIlgpuCpu(string fixture)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Fixture(fixture), "generate.json")));
        int[] prompt = doc.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] expected = doc.RootElement.GetProperty("new_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var model = Load(SharedData.Fixture(fixture));
        Assert.Equal(expected, new Generator(model).Generate([prompt], new GenerationOptions { MaxNewTokens = expected.Length })[0].NewIds);
    }

    [Fact]
    public void SteeringAndCaptureMatchTheCpuBackend()
    {
        using var cpu = Transformer.Load(SharedData.Model("stories260k"));
        using var device = Load(SharedData.Model("stories260k"));
        var random = new Random(3);
        float[] Vector() => Enumerable.Range(0, 64).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        int[][] batch = [[1, 403, 407, 261, 378], [1, 317, 439], [1, 260, 300, 301]];
        SteeringPlan?[] plans =
        [
            new SteeringPlan().AddVector(1, Vector(), 3f).AddVector(1, Vector(), -1f).AddVector(3, Vector(), 2f, HookPoint.MlpOut, TokenSelection.StartingAt(2)),
            null,
            new SteeringPlan().AddVector(2, Vector(), 1.5f, HookPoint.AttnOut).ProjectOut(0, Vector())
                .Add(new AddVector(new HookId(HookPoint.ResidPost, 4), Vector(), 0.5f, TokenSelection.All, ScaleToResidualNorm: true, PreserveNorm: true)),
        ];
        var capture = new List<HookId> { new(HookPoint.AttnOut, 2), new(HookPoint.ResidMid, 3), new(HookPoint.MlpOut, 0), HookId.FinalNormalized };
        var options = new ForwardOptions { SequenceSteering = plans, Capture = capture };
        var expected = cpu.Forward(batch, options);
        var actual = device.Forward(batch, options);
        for (int slot = 0; slot <= cpu.Layers; slot++)
            SharedData.AssertClose(expected.Residual.Slot(slot), actual.Residual.Slot(slot), $"slot {slot}");
        foreach (var hook in capture)
            SharedData.AssertClose(expected.Read(hook), actual.Read(hook), hook.Name);
        SharedData.AssertClose(expected.Logits, actual.Logits, "logits");

        var steer = new SteeringPlan().AddVector(2, Vector(), 4f, tokens: TokenSelection.Generated);
        var generationOptions = new GenerationOptions { MaxNewTokens = 10, StopTokens = [], Steering = steer };
        Assert.Equal(new Generator(cpu).Generate(batch, generationOptions).Select(o => o.NewIds), new Generator(device).Generate(batch, generationOptions).Select(o => o.NewIds));
    }

    [Fact]
    public void ResumeFromASlotOnIlgpuCpu()
    {
        using var cpu = Transformer.Load(SharedData.Model("stories260k"));
        using var device = Load(SharedData.Model("stories260k"));
        int[] ids = [1, 403, 407, 261, 378];
        var residual = cpu.Forward([ids]).Residual.Slot(2).ToArray();
        SharedData.AssertClose(cpu.ForwardFrom(2, [residual], [ids]).Logits, device.ForwardFrom(2, [residual], [ids]).Logits, "resumed logits");
    }

    [Fact]
    public void DeviceNamesParseAndCudaIsRefusedClearlyWithoutAGpu()
    {
        Assert.Equal(DeviceKind.IlgpuCpu, DeviceKinds.Parse("ilgpu-cpu"));
        Assert.Throws<NativeLayersException>(() => DeviceKinds.Parse("tpu"));
        if (!GpuBackend.CudaAvailable)
        {
            Assert.Equal(DeviceKind.Cpu, BackendChoice.Resolve("auto"));
            Assert.Throws<NativeLayersException>(() => Transformer.Load(SharedData.Fixture("llama"), BackendChoice.Options(DeviceKind.Cuda, 0)));
        }
    }
}

[CollectionDefinition("IlgpuCpu", DisableParallelization = true)]
public class IlgpuCpuCollection;
