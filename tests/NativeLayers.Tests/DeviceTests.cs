using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Backends;
using NativeLayers.Backends.Gpu;
using NativeLayers.Cli;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// The GPU provider against the CPU provider, both through the one driver, with ILGPU's CPU accelerator standing in
/// for a GPU: mixed per-sequence steering, captures, resumed forwards. (The goldens run on both devices in their own
/// test classes.) ILGPU-CPU is an emulator, so the models stay tiny.
/// </summary>
[Collection("IlgpuCpu")]
public class DeviceTests
{
    private static Transformer Load(string dir) => Transformer.Load(dir, BackendChoice.Options(DeviceKind.IlgpuCpu, threads: 0));

    [SkippableFact]
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

    [SkippableFact]
    public void ResumeFromASlotOnIlgpuCpu()
    {
        using var cpu = Transformer.Load(SharedData.Model("stories260k"));
        using var device = Load(SharedData.Model("stories260k"));
        int[] ids = [1, 403, 407, 261, 378];
        var residual = cpu.Forward([ids]).Residual.Slot(2).ToArray();
        SharedData.AssertClose(cpu.ForwardFrom(2, [residual], [ids]).Logits, device.ForwardFrom(2, [residual], [ids]).Logits, "resumed logits");
    }

    [SkippableFact]
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
