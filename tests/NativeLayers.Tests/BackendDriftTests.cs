using NativeLayers.Loading;
using NativeLayers.ModelGen;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// What used to differ between the CPU and GPU paths when each had its own forward pass: input errors, SoLU, folded
/// steering. One driver now runs both, so each case must give the same answer on every backend.
/// </summary>
public class BackendDriftTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliTests.Run(args);

    private static string ErrorOf(Action action) => Assert.Throws<NativeLayersException>(action).Message;

    [SkippableFact]
    public void BadInputsGiveTheSameClearErrorOnEveryBackend()
    {
        var messages = TestDevices.All.Select(device =>
        {
            using var llama = TestDevices.Load(SharedData.Fixture("llama"), device);
            using var gpt2 = TestDevices.Load(SharedData.Fixture("gpt2"), device);
            using var bert = TestDevices.Load(SharedData.Fixture("bert"), device);
            return new[]
            {
                ErrorOf(() => llama.Forward([[1, 2, llama.VocabSize]])),
                ErrorOf(() => llama.Forward([[1, -3]])),
                ErrorOf(() => gpt2.Forward([Enumerable.Range(0, 65).Select(i => i % 7).ToArray()])),
                ErrorOf(() => bert.Forward([[1, 2, 3]], LogitsMode.None, [[0, 2, 0]])),
                ErrorOf(() => bert.Forward([[1, 2, 3]], LogitsMode.None, [[0, 0]])),
                ErrorOf(() => llama.Forward([[1, 2]], LogitsMode.All, [[0, 0]])),
            };
        }).ToArray();
        Assert.Equal(messages[0], messages[1]);
        Assert.Contains($"token id 389 is outside the vocabulary of {SharedData.Fixture("llama")} (0..388)", messages[0][0]);
        Assert.Contains("token id -3 is outside the vocabulary", messages[0][1]);
        Assert.Contains("position 64 is beyond the 64 learned positions", messages[0][2]);
        Assert.Contains("token type 2 is outside 0..1", messages[0][3]);
        Assert.Contains("one type per token", messages[0][4]);
        Assert.Contains("take no token types", messages[0][5]);
    }

    [SkippableFact]
    public void TheCliSaysTheSameOneLineErrorOnEveryBackend()
    {
        using var folder = new TempFolder();
        var errors = TestDevices.All.Select(device =>
        {
            var (code, _, err) = Run("hidden", "--model", SharedData.Fixture("gpt2"), "--ids", "1,2,999", "--device", device, "--out", folder.File($"{device}.safetensors"));
            Assert.Equal(1, code);
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("error:", lines[0]);
            return lines[0];
        }).ToArray();
        Assert.Equal(errors[0], errors[1]);
        Assert.Contains("token id 999 is outside the vocabulary", errors[0]);
    }

    [SkippableFact]
    public void SoluModelsRunOnTheGpuKernelsAndVerifyAgainstTheCpu()
    {
        using var folder = new TempFolder();
        ModelGenerator.Generate(folder.Path, ModelSpec.Preset("gpt2-tiny") with { Activation = "solu_ln" }, DType.F32, seed: 5);
        var (code, output, err) = Run("verify", "--model", folder.Path, "--device", "ilgpu-cpu", "--tolerance", "1e-4");
        Assert.True(code == 0, err + output);
        Assert.Contains("ok", output);
    }

    [SkippableFact]
    public void VerifyRefusesToCompareTheCpuBackendWithItself()
    {
        var (code, _, err) = Run("verify", "--model", SharedData.Fixture("llama"), "--device", "cpu");
        Assert.Equal(1, code);
        Assert.Contains("compare the CPU backend with itself", err);
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void FoldedSteeringEqualsRowWiseSteeringWithEveryPointCaptured(string device)
    {
        using var model = TestDevices.Load(SharedData.Model("stories260k"), device);
        var random = new Random(8);
        float[] Vector() => Enumerable.Range(0, model.Width).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        int[][] batch = [[1, 403, 407, 261, 378], [1, 317, 439]];
        var points = new[] { HookPoint.AttnOut, HookPoint.ResidMid, HookPoint.MlpOut, HookPoint.ResidPost };
        var vectors = points.Select(_ => Vector()).ToArray();
        SteeringPlan Plan(TokenSelection tokens)
        {
            var plan = new SteeringPlan();
            for (int p = 0; p < points.Length; p++) plan.AddVector(p + 1, vectors[p], 1.5f, points[p], tokens).AddVector(2, vectors[p], -0.5f, points[p], tokens);
            return plan;
        }
        foreach (var capture in new List<HookId>[] { [], [new(HookPoint.MlpOut, 3), new(HookPoint.AttnOut, 2)] })
        {
            var folded = model.Forward(batch, new ForwardOptions { Steering = Plan(TokenSelection.All), Capture = capture });
            var rowWise = model.Forward(batch, new ForwardOptions { Steering = Plan(TokenSelection.StartingAt(0)), Capture = capture });
            for (int slot = 0; slot <= model.Layers; slot++)
                SharedData.AssertClose(rowWise.Residual.Slot(slot), folded.Residual.Slot(slot), $"slot {slot}", 1e-5f, 1e-5f);
            foreach (var hook in capture) SharedData.AssertClose(rowWise.Read(hook), folded.Read(hook), hook.Name, 1e-5f, 1e-5f);
            SharedData.AssertClose(rowWise.Logits, folded.Logits, "logits", 1e-5f, 1e-5f);
        }
    }
}
