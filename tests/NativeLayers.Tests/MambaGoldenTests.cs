using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// Mamba against Hugging Face transformers 4.40.2. Its goldens follow HF's Mamba convention: hidden_states.i is the
/// output of block i (slot i + 1 here), the embedding is stored apart as embedding_output (slot 0), and
/// hidden_states.L is the final norm's output. (Its generation golden runs with the others in DecoderGoldenTests.)
/// </summary>
public class MambaGoldenTests
{
    private static string Fixture => SharedData.Fixture("mamba");

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var golden in new[] { "golden.safetensors", "golden_single.safetensors" })
            foreach (var device in TestDevices.All)
                data.Add(golden, device);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void ResidualStreamMixerOutputsAndLogitsMatchTransformers(string goldenFile, string device)
    {
        using var model = TestDevices.Load(Fixture, device);
        using var golden = SafetensorsFile.Open(Path.Combine(Fixture, goldenFile));
        var batch = SharedData.Rows(golden.ReadInt64("input_ids"), SharedData.ShapeOf(golden, "input_ids"));
        int layers = model.Layers;
        var mixerOut = Enumerable.Range(0, layers).Select(l => new HookId(HookPoint.MixerOut, l)).ToList();
        var result = model.Forward(batch, new ForwardOptions { Capture = mixerOut });

        SharedData.AssertClose(golden.ReadFloat32("embedding_output"), result.Residual.Slot(0), "slot 0 (embedding_output)");
        for (int i = 0; i < layers; i++)
        {
            SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{i}"), result.Residual.Slot(i + 1), $"slot {i + 1} (output of block {i})");
            SharedData.AssertClose(golden.ReadFloat32($"debug.mixer_out.{i}"), result.Read(mixerOut[i]), $"{mixerOut[i].Name}");
        }
        SharedData.AssertClose(golden.ReadFloat32("residual_final_prenorm"), result.Residual.Slot(layers), "raw final residual");
        SharedData.AssertClose(golden.ReadFloat32($"hidden_states.{layers}"), model.FinalNorm(result.Residual.Slot(layers)), "final norm");
        SharedData.AssertClose(golden.ReadFloat32("logits"), result.Logits, "logits");
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void SteeringAtTheMixerOutputFoldedOrRowWiseAgreesAndTransformerPointsAreRefused(string device)
    {
        using var model = TestDevices.Load(Fixture, device);
        int[] ids = [6, 34, 23, 13, 109, 7];
        var random = new Random(3);
        var vector = Enumerable.Range(0, model.Width).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var plain = model.Forward([ids]);
        foreach (var point in new[] { HookPoint.MixerOut, HookPoint.ResidPost })
        {
            var folded = model.Forward([ids], new ForwardOptions { Steering = new SteeringPlan().AddVector(0, vector, 2f, point) });
            var rowWise = model.Forward([ids], new ForwardOptions { Steering = new SteeringPlan().AddVector(0, vector, 2f, point, TokenSelection.StartingAt(0)) });
            SharedData.AssertClose(rowWise.Logits, folded.Logits, $"{point} logits", 1e-5f, 1e-5f);
            Assert.NotEqual(plain.Logits, folded.Logits);
        }
        var error = Assert.Throws<NativeLayersException>(() => model.Forward([ids], new ForwardOptions { Capture = [new HookId(HookPoint.AttnOut, 0)] }));
        Assert.Contains("hook_mixer_out", error.Message);
        Assert.Equal(new HookId(HookPoint.MixerOut, 1), HookId.Parse("blocks.1.hook_mixer_out", model.Layers));
    }
}
