using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>ForwardOptions.StopAtSlot: the blocks after the slot do not run (their slots stay unfilled), and what ran is what a full forward computes.</summary>
public sealed class StopAtSlotTests
{
    private static readonly int[][] Prompts = [[1, 403, 407, 261, 378], [1, 306, 204]];

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void TheSlotsUpToTheStopEqualAFullForwardAndTheRestAreNotComputed(string device)
    {
        using var model = TestDevices.Load(ReferenceData.Stories260k, device);
        var full = model.Forward(Prompts, new ForwardOptions { Logits = LogitsMode.None });
        int stop = model.Layers / 2;
        var blocksRun = new List<(int Done, int Total)>();
        var stopped = model.Forward(Prompts, new ForwardOptions { StopAtSlot = stop, LayerProgress = new Recorder(blocksRun.Add) });
        Assert.Null(stopped.Logits);
        for (int slot = 0; slot <= stop; slot++)
            Assert.Equal(full.Residual.Slot(slot).ToArray(), stopped.Residual.Slot(slot).ToArray());
        Assert.Equal(Enumerable.Range(1, stop).Select(d => (d, stop)), blocksRun);

        // Stopping at the last slot is a full forward; stopping at slot 0 runs no block.
        var last = model.Forward(Prompts, new ForwardOptions { StopAtSlot = model.Layers, Logits = LogitsMode.None });
        Assert.Equal(full.Residual.Slot(model.Layers).ToArray(), last.Residual.Slot(model.Layers).ToArray());
        var embedding = model.Forward(Prompts, new ForwardOptions { StopAtSlot = 0, HostSlots = [0] });
        Assert.Equal(full.Residual.Slot(0).ToArray(), embedding.Residual.Slot(0).ToArray());
    }

    [Fact]
    public void AResumedForwardStopsToo()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var full = model.Forward(Prompts, new ForwardOptions { Logits = LogitsMode.None });
        var blocksRun = new List<(int Done, int Total)>();
        var resumed = model.ForwardFrom(1, Prompts.Select((_, s) => full.Residual.SequenceSlot(1, s).ToArray()).ToArray(), Prompts,
            new ForwardOptions { StopAtSlot = 3, LayerProgress = new Recorder(blocksRun.Add) });
        Assert.Equal(full.Residual.Slot(3).ToArray(), resumed.Residual.Slot(3).ToArray());
        Assert.Equal([(1, 2), (2, 2)], blocksRun); // blocks 1 and 2 only
    }

    [Fact]
    public void SteeringBeforeTheStopActsAndCapturesAfterItAreRefused()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var vector = Enumerable.Repeat(0.5f, model.Width).ToArray();
        var plain = model.Forward(Prompts, new ForwardOptions { StopAtSlot = 2 });
        var steered = model.Forward(Prompts, new ForwardOptions { StopAtSlot = 2, Steering = new SteeringPlan().AddVector(0, vector, 1f) });
        var expected = plain.Residual.Slot(1).ToArray();
        Assert.NotEqual(expected, steered.Residual.Slot(1).ToArray());

        var late = Assert.Throws<NativeLayersException>(() => model.Forward(Prompts, new ForwardOptions { StopAtSlot = 2, Capture = [new HookId(HookPoint.AttnOut, 2)] }));
        Assert.Contains("blocks.2", late.Message);
        Assert.Contains("does not run", late.Message);
        Assert.Throws<NativeLayersException>(() => model.Forward(Prompts, new ForwardOptions { StopAtSlot = 2, Capture = [HookId.FinalNormalized] }));
        // Points of blocks that run can be captured.
        var early = model.Forward(Prompts, new ForwardOptions { StopAtSlot = 2, Capture = [new HookId(HookPoint.AttnOut, 1)] });
        Assert.Equal(model.Forward(Prompts, new ForwardOptions { Capture = [new HookId(HookPoint.AttnOut, 1)] }).Read(new HookId(HookPoint.AttnOut, 1)).ToArray(),
            early.Read(new HookId(HookPoint.AttnOut, 1)).ToArray());
    }

    [Fact]
    public void AStopThatWouldBreakACacheOrGiveLogitsIsRefused()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var logits = Assert.Throws<NativeLayersException>(() => model.Forward(Prompts, new ForwardOptions { StopAtSlot = 2, Logits = LogitsMode.All }));
        Assert.Contains("makes no logits", logits.Message);
        var sequences = Prompts.Select(p => model.NewSequence(p.Length)).ToArray();
        var cached = Assert.Throws<NativeLayersException>(() => model.Forward(sequences, Prompts, new ForwardOptions { StopAtSlot = 2, Logits = LogitsMode.None }));
        Assert.Contains("KV caches", cached.Message);
        Assert.Equal(0, sequences[0].Length);
        foreach (int slot in new[] { -1, model.Layers + 1 })
            Assert.Contains($"cannot stop at slot {slot}", Assert.Throws<NativeLayersException>(() => model.Forward(Prompts, new ForwardOptions { StopAtSlot = slot })).Message);
        Assert.Contains("cannot stop at slot 1", Assert.Throws<NativeLayersException>(() =>
            model.ForwardFrom(2, Prompts.Select(p => new float[p.Length * model.Width]).ToArray(), Prompts, new ForwardOptions { StopAtSlot = 1 })).Message);
    }

    private sealed class Recorder(Action<(int, int)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
