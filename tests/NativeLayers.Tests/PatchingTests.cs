using System.Text.Json;
using NativeLayers.Analysis.Patching;
using NativeLayers.Cli;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// Activation patching on stories260k: the set operation against whole-model invariants, and the batched, resumed grid
/// against plain full forwards of the same patches.
/// </summary>
public class PatchingTests
{
    private static readonly int[] Clean = [1, 403, 407, 261, 378, 276, 270, 412];
    private static readonly int[] Corrupted = [1, 403, 407, 261, 300, 276, 270, 412];
    private const int Answer = 380, Wrong = 301;

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void SettingEveryPositionOfASlotFromTheCleanRunReproducesTheCleanLogits(string device)
    {
        using var model = TestDevices.Load(ReferenceData.Stories260k, device);
        var clean = model.Forward([Clean]);
        var corrupted = model.Forward([Corrupted]);
        int layer = 2, all = Clean.Length;
        var plan = new SteeringPlan().Set(new HookId(HookPoint.ResidPre, layer), Enumerable.Range(0, all).ToArray(), clean.Residual.Slot(layer).ToArray());
        var patched = model.ForwardFrom(layer, [corrupted.Residual.Slot(layer).ToArray()], [Corrupted], new ForwardOptions { Steering = plan });
        SharedData.AssertClose(clean.Logits, patched.Logits, "patched from clean", 1e-5f, 1e-5f);
        var same = model.Forward([Corrupted], new ForwardOptions
        {
            Steering = new SteeringPlan().Set(new HookId(HookPoint.MlpOut, 1), [4, 6], corrupted.Residual.Slot(0)[..(2 * model.Width)].ToArray()),
        });
        Assert.NotEqual(corrupted.Logits, same.Logits); // setting other values changes the run ...
        var unchanged = model.Forward([Corrupted], new ForwardOptions { Capture = [new HookId(HookPoint.MlpOut, 1)] });
        var own = unchanged.Read(new HookId(HookPoint.MlpOut, 1)).ToArray();
        var selfPatched = model.Forward([Corrupted], new ForwardOptions { Steering = new SteeringPlan().Set(new HookId(HookPoint.MlpOut, 1), [3], own[(3 * model.Width)..(4 * model.Width)]) });
        SharedData.AssertClose(corrupted.Logits, selfPatched.Logits, "patched from itself", 1e-6f, 1e-6f); // ... its own values change nothing
    }

    [Fact]
    public void TheBatchedResumedGridEqualsFullForwardsOfEachPatch()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var points = new[] { HookPoint.ResidPre, HookPoint.AttnOut, HookPoint.MlpOut, HookPoint.ResidPost };
        var result = ActivationPatching.Run(model, Clean, Corrupted, Answer, Wrong, new PatchingOptions { Points = points, BatchSize = 5 });
        Assert.Equal(Enumerable.Range(0, model.Layers), result.Layers);
        Assert.Equal(Enumerable.Range(0, Clean.Length), result.Positions);

        double Diff(ForwardResult r) => (double)r.LastLogits(0)[Answer] - r.LastLogits(0)[Wrong];
        var cleanRun = model.Forward([Clean], new ForwardOptions { Capture = [.. Enumerable.Range(0, model.Layers).SelectMany(l => new[] { new HookId(HookPoint.AttnOut, l), new HookId(HookPoint.MlpOut, l) })] });
        Assert.Equal(Diff(cleanRun), result.CleanLogitDiff, 5);
        Assert.Equal(Diff(model.Forward([Corrupted])), result.CorruptedLogitDiff, 5);
        Assert.NotEqual(result.CleanLogitDiff, result.CorruptedLogitDiff, 3);
        int w = model.Width;
        foreach (var point in points)
            foreach (int layer in new[] { 0, model.Layers - 1 })
                foreach (int position in new[] { 0, 4, Clean.Length - 1 })
                {
                    var hook = new HookId(point, layer);
                    var source = hook.Slot >= 0 ? cleanRun.Residual.Slot(hook.Slot) : cleanRun.Read(hook);
                    var full = model.Forward([Corrupted], new ForwardOptions { Steering = new SteeringPlan().Set(hook, [position], source.Slice(position * w, w).ToArray()) });
                    Assert.Equal(Diff(full), result.Patched[point][layer, position], 4);
                }
        // Positions where the prompts agree carry the same values into the first block; the last block's output at the
        // last position is all the logits read.
        Assert.Equal(result.CorruptedLogitDiff, result.Patched[HookPoint.ResidPre][0, 0], 4);
        Assert.Equal(result.CleanLogitDiff, result.Patched[HookPoint.ResidPost][model.Layers - 1, Clean.Length - 1], 4);
        Assert.Equal(1.0, result.Normalized(result.CleanLogitDiff), 9);
    }

    [Fact]
    public void MismatchedPromptsAndMissingPointsAreRefused()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var options = new PatchingOptions { Points = [HookPoint.ResidPre] };
        Assert.Contains("same length", Assert.Throws<NativeLayersException>(() => ActivationPatching.Run(model, Clean, Corrupted[..5], Answer, Wrong, options)).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<NativeLayersException>(() => ActivationPatching.Run(model, Clean, Corrupted, 99999, Wrong, options)).Message);
        Assert.Contains("mixer_out", Assert.Throws<NativeLayersException>(() =>
            ActivationPatching.Run(model, Clean, Corrupted, Answer, Wrong, new PatchingOptions { Points = [HookPoint.MixerOut] })).Message);
        Assert.Contains("cannot be patched", Assert.Throws<NativeLayersException>(() =>
            ActivationPatching.Run(model, Clean, Corrupted, Answer, Wrong, new PatchingOptions { Points = [HookPoint.RouterLogits] })).Message);
        Assert.Contains("needs 1 × 64 values", Assert.Throws<NativeLayersException>(() =>
            model.Forward([Clean], new ForwardOptions { Steering = new SteeringPlan().Set(new HookId(HookPoint.ResidPost, 0), [1], new float[3]) })).Message);
    }

    [Fact]
    public void PatchCommandWritesEveryLogitDifferenceAndAHeatmapPerPoint()
    {
        using var folder = new TempFolder();
        string json = Path.Combine(folder.Path, "patch.json"), png = Path.Combine(folder.Path, "patch.png");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(["patch", "--clean", "Lily had a red ball. Tim took the ball from", "--corrupted", "Tim had a red ball. Tim took the ball from",
            "--answer", "Lily", "--wrong", "#326", "--points", "resid_pre,mlp_out", "--layers", "0,-1", "--out", json, "--plot", png], output, error);
        Assert.True(code == 0, error.ToString() + output);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal(["resid_pre", "mlp_out"], root.GetProperty("points").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal([0, 4], root.GetProperty("layers").EnumerateArray().Select(l => l.GetInt32()));
        int tokens = root.GetProperty("tokens").GetArrayLength();
        var resid = root.GetProperty("patched").GetProperty("resid_pre");
        Assert.Equal(2, resid.GetArrayLength());
        Assert.Equal(tokens, resid[1].GetArrayLength());
        // resid_pre of block 0 at the first token (BOS, the same in both prompts) is the corrupted run unchanged.
        Assert.Equal(root.GetProperty("corrupted_logit_diff").GetDouble(), resid[0][0].GetDouble(), 4);
        Assert.True(root.GetProperty("clean_logit_diff").GetDouble() > root.GetProperty("corrupted_logit_diff").GetDouble());
        Assert.True(new FileInfo(Path.Combine(folder.Path, "patch.resid_pre.png")).Length > 1000);
        Assert.True(new FileInfo(Path.Combine(folder.Path, "patch.mlp_out.png")).Length > 1000);

        error.GetStringBuilder().Clear();
        Assert.Equal(1, CliApp.Run(["patch", "--clean", "Lily had a ball", "--corrupted", "Tim had a ball", "--answer", "Tom", "--wrong", "#326"], new StringWriter(), error));
        Assert.Contains("--answer 'Tom' is 2 tokens", error.ToString());
    }

    [SkippableTheory]
    [InlineData("gemma2")]
    [InlineData("mixtral")]
    [InlineData("mamba")]
    public void PatchingAndSaeSplicesWorkOnTheNewFamilies(string fixture)
    {
        using var model = Transformer.Load(SharedData.Fixture(fixture));
        int[] clean = [5, 17, 42, 8, 99, 3], corrupted = [5, 17, 43, 8, 99, 3];
        var points = fixture == "mamba" ? new[] { HookPoint.ResidPre, HookPoint.MixerOut, HookPoint.ResidPost } : [HookPoint.ResidPre, HookPoint.AttnOut, HookPoint.MlpOut, HookPoint.ResidPost];
        var result = ActivationPatching.Run(model, clean, corrupted, 10, 20, new PatchingOptions { Points = points });
        int last = model.Layers - 1;
        Assert.Equal(result.CleanLogitDiff, result.Patched[HookPoint.ResidPost][last, clean.Length - 1], 4);
        Assert.Equal(result.CorruptedLogitDiff, result.Patched[HookPoint.ResidPre][0, 0], 4);

        // A splice that keeps the error term leaves the model's output as it was, at every point.
        var hook = new HookId(points[1], 0);
        var sae = new NativeLayers.Analysis.Saes.SparseAutoencoder(
            new NativeLayers.Analysis.Saes.SaeHeader("test", "random", hook.Name, NativeLayers.Analysis.Saes.SaeArchitecture.Standard, model.Width, 2 * model.Width),
            Enumerable.Range(0, model.Width * 2 * model.Width).Select(i => (float)Math.Sin(i)).ToArray(), new float[2 * model.Width],
            Enumerable.Range(0, 2 * model.Width * model.Width).Select(i => (float)Math.Cos(i)).ToArray(), new float[model.Width]);
        var plain = model.Forward([clean]);
        var spliced = model.Forward([clean], new ForwardOptions { Steering = new SteeringPlan().Transform(hook, new NativeLayers.Analysis.Saes.SaeSplice(sae, keepError: true, [new(0, 0)])) });
        var unchanged = model.Forward([clean], new ForwardOptions { Steering = new SteeringPlan().Transform(hook, new NativeLayers.Analysis.Saes.SaeSplice(sae, keepError: true)) });
        SharedData.AssertClose(plain.Logits, unchanged.Logits, $"{fixture} keep-error splice", 1e-5f, 1e-5f);
        Assert.NotEqual(plain.Logits, spliced.Logits);
    }
}
