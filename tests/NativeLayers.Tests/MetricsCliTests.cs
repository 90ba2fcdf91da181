using System.Text.Json;
using NativeLayers.Cli;

namespace NativeLayers.Tests;

/// <summary>`nl metrics` end to end on stories260k.</summary>
public sealed class MetricsCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nl-metrics-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static string Model() => ReferenceData.Stories260k;

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private string PromptFile()
    {
        string path = Path.Combine(_dir, "prompts.txt");
        File.WriteAllLines(path,
        [
            "Once upon a time there was a little girl named Lily.",
            "The dog ran to the park and played with a big red ball.",
            "Tom was sad because his toy was broken.",
            "One day, a bird flew over the tall green tree.",
            "She liked to eat apples and bananas every morning.",
        ]);
        return path;
    }

    [Fact]
    public void WritesJsonCsvAndPlot()
    {
        string json = Path.Combine(_dir, "m.json"), csv = Path.Combine(_dir, "m.csv"), png = Path.Combine(_dir, "m.png");
        var (code, output, err) = Run("metrics", "--model", Model(), "--prompts", PromptFile(),
            "--metrics", "prompt-entropy,dataset-entropy,curvature,effective-rank,infonce,lidar,dime",
            "--out", json, "--csv", csv, "--plot", png, "--seed", "3");
        Assert.True(code == 0, err + output);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(["slots", "metrics"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal([0, 1, 2, 3, 4, 5], doc.RootElement.GetProperty("slots").EnumerateArray().Select(e => e.GetInt32()));
        var metrics = doc.RootElement.GetProperty("metrics");
        Assert.Equal(["prompt_entropy", "dataset_entropy", "curvature", "effective_rank", "infonce", "lidar", "dime"],
            metrics.EnumerateObject().Select(p => p.Name));
        foreach (var m in metrics.EnumerateObject())
        {
            Assert.Equal(6, m.Value.GetArrayLength());
            Assert.All(m.Value.EnumerateArray(), v => Assert.Equal(JsonValueKind.Number, v.ValueKind));
        }
        Assert.All(metrics.GetProperty("prompt_entropy").EnumerateArray(), v => Assert.InRange(v.GetDouble(), 0, Math.Log(64)));
        Assert.StartsWith("slot,", File.ReadLines(csv).First());
        Assert.Equal(7, File.ReadAllLines(csv).Length);
        Assert.Equal(0x89, File.ReadAllBytes(png)[0]);
        Assert.Contains("prompt_entropy", output);
    }

    [Fact]
    public void PaperModeAndAlpha()
    {
        string json = Path.Combine(_dir, "p.json");
        var (code, _, err) = Run("metrics", "--model", Model(), "--prompts", PromptFile(), "--metrics", "prompt-entropy",
            "--alpha", "2", "--mode", "paper", "--out", json);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var values = doc.RootElement.GetProperty("metrics").GetProperty("prompt_entropy").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(6, values.Length);
        // The options reach the computation: the library with the same settings gives the same numbers, the defaults others.
        using var model = NativeLayers.Runtime.Transformer.Load(Model());
        var texts = NativeLayers.Runtime.Capture.PromptFile.Read(PromptFile());
        double[] Library(double alpha, NativeLayers.Analysis.Metrics.MetricMode mode) => NativeLayers.Analysis.Metrics.LayerMetrics.Run(model, texts,
            new NativeLayers.Analysis.Metrics.LayerMetricsOptions { Metrics = [NativeLayers.Analysis.Metrics.LayerMetric.PromptEntropy], Alpha = alpha, Mode = mode })
            .Values["prompt_entropy"];
        var expected = Library(2, NativeLayers.Analysis.Metrics.MetricMode.PaperCompat);
        for (int i = 0; i < 6; i++) Assert.Equal(expected[i], values[i], 9);
        var defaults = Library(1, NativeLayers.Analysis.Metrics.MetricMode.Recommended);
        Assert.True(Enumerable.Range(0, 6).All(i => Math.Abs(defaults[i] - values[i]) > 1e-6));
    }

    [Fact]
    public void UserErrorsAreOneLine()
    {
        string json = Path.Combine(_dir, "e.json");
        foreach (var args in new[]
        {
            new[] { "--metrics", "bogus" },
            ["--mode", "fast"],
            ["--alpha", "0"],
            ["--plot", Path.Combine(_dir, "x.jpg")],
        })
        {
            var (code, _, err) = Run(["metrics", "--model", Model(), "--prompts", PromptFile(), "--out", json, .. args]);
            Assert.Equal(CliApp.UserError, code);
            Assert.StartsWith("error:", err);
            Assert.Single(err.TrimEnd().Split('\n'));
        }
        var (c2, _, e2) = Run("metrics", "--model", Model(), "--prompts", Path.Combine(_dir, "missing.txt"), "--out", json);
        Assert.Equal(CliApp.UserError, c2);
        Assert.StartsWith("error:", e2);
    }
}
