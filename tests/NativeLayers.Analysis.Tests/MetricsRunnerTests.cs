using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Metrics;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Tests;

/// <summary><see cref="LayerMetrics"/> on the stories260k model (the repository's models/stories260k).</summary>
public sealed class MetricsRunnerTests : IClassFixture<MetricsRunnerTests.ModelFixture>
{
    public sealed class ModelFixture : IDisposable
    {
        public Transformer Model { get; } = Transformer.Load(SharedModels.Stories260k);
        public void Dispose() => Model.Dispose();
    }

    internal static readonly string[] Prompts =
    [
        "Once upon a time there was a little girl named Lily.",
        "The dog ran to the park and played with a big red ball.",
        "Tom was sad because his toy was broken.",
        "One day, a bird flew over the tall green tree.",
        "She liked to eat apples and bananas every morning.",
        "The sun was shining and the children were happy.",
        "", // only BOS: a single-token prompt, skipped by prompt entropy and curvature
    ];

    private readonly Transformer _model;
    public MetricsRunnerTests(ModelFixture fixture) => _model = fixture.Model;

    [Fact]
    public void EverySlotMatchesTheMetricsOnTheResidualStream()
    {
        var options = new LayerMetricsOptions { BatchSize = 3 };
        var r = LayerMetrics.Run(_model, Prompts, options);
        int slots = _model.Layers + 1, d = _model.Width;
        Assert.Equal(Enumerable.Range(0, slots), r.Slots);
        Assert.Equal(["prompt_entropy", "dataset_entropy", "curvature", "effective_rank"], r.Values.Keys);

        // Recompute from one forward of the whole set (a different batch layout: float32 round-off differs, hence 1e-6).
        var ids = Prompts.Select(p => _model.Tokenizer.Encode(p)).ToArray();
        var stream = _model.Forward(ids, LogitsMode.None).Residual;
        for (int slot = 0; slot < slots; slot++)
        {
            var pe = new List<double>();
            var curv = new List<double>();
            var pooled = new List<double[]>();
            for (int s = 0; s < ids.Length; s++)
            {
                var z = Matrix.FromFloats(ids[s].Length, d, stream.SequenceSlot(slot, s));
                if (z.Rows >= 2) pe.Add(PromptEntropy.Compute(z));
                if (z.Rows >= 3) curv.Add(Curvature.OfPrompt(z));
                pooled.Add(Preprocessing.MeanPool(z));
            }
            var x = Preprocessing.Stack(pooled, d);
            Expect.Close(pe.Average(), r.Values["prompt_entropy"][slot], 1e-6);
            Expect.Close(curv.Average(), r.Values["curvature"][slot], 1e-6);
            Expect.Close(DatasetEntropy.FromPooled(x), r.Values["dataset_entropy"][slot], 1e-6);
            Expect.Close(EffectiveRank.SingularValue(Preprocessing.CenterRows(x)), r.Values["effective_rank"][slot], 1e-6);
            Assert.InRange(r.Values["prompt_entropy"][slot], 0, Math.Log(ids.Max(i => i.Length)));
            Assert.InRange(r.Values["dataset_entropy"][slot], 0, Math.Log(Prompts.Length));
            Assert.InRange(r.Values["effective_rank"][slot], 1, Prompts.Length);
        }
        Assert.Single(ids[^1]);
        Assert.Equal(Prompts.Length - 1, r.Details["prompt_entropy_prompts"][0]);
        Assert.Contains(r.Warnings, w => w.Contains("prompt entropy"));
    }

    [Fact]
    public void PaperCompatFinalNormsTheLastSlot()
    {
        var options = new LayerMetricsOptions { Mode = MetricMode.PaperCompat, Metrics = [LayerMetric.PromptEntropy] };
        var prompts = Prompts[..3];
        var r = LayerMetrics.Run(_model, prompts, options);
        var ids = prompts.Select(p => _model.Tokenizer.Encode(p)).ToArray();
        var stream = _model.Forward(ids, LogitsMode.None).Residual;
        int last = _model.Layers;
        double expected = Enumerable.Range(0, ids.Length).Average(s =>
            PromptEntropy.Compute(Matrix.FromFloats(ids[s].Length, _model.Width, _model.FinalNorm(stream.SequenceSlot(last, s))), 1, MetricMode.PaperCompat));
        Expect.Close(expected, r.Values["prompt_entropy"][last], 1e-9);
    }

    [Fact]
    public void AugmentationMetricsAreReproducibleWithASeed()
    {
        var options = new LayerMetricsOptions
        {
            Metrics = [LayerMetric.InfoNce, LayerMetric.Lidar, LayerMetric.Dime],
            LidarAugmentations = 4, DimePermutations = 3, Seed = 7, BatchSize = 8,
        };
        var prompts = Prompts[..6];
        var r1 = LayerMetrics.Run(_model, prompts, options);
        var r2 = LayerMetrics.Run(_model, prompts, options);
        foreach (var key in new[] { "infonce", "lidar", "dime" })
        {
            Assert.Equal(r1.Values[key], r2.Values[key]);
            Assert.All(r1.Values[key], v => Assert.True(double.IsFinite(v), key));
        }
        Assert.All(r1.Values["lidar"], v => Assert.InRange(v, 0, Math.Log(prompts.Length)));
        Assert.All(r1.Details["infonce_mi_bound"], v => Assert.True(v <= 1));
        var r3 = LayerMetrics.Run(_model, prompts, options with { Seed = 8 });
        Assert.NotEqual(r1.Values["infonce"], r3.Values["infonce"]);
    }

    [Fact]
    public void TokenIdsCannotBeAugmented()
    {
        var ids = Prompts.Select(p => _model.Tokenizer.Encode(p)).ToArray();
        Assert.Throws<NativeLayersException>(() => LayerMetrics.Run(_model, ids, new LayerMetricsOptions { Metrics = [LayerMetric.InfoNce] }));
        var r = LayerMetrics.Run(_model, ids, new LayerMetricsOptions { Metrics = [LayerMetric.Curvature] });
        Assert.Equal(_model.Layers + 1, r.Values["curvature"].Length);
        Assert.Throws<NativeLayersException>(() => LayerMetricNames.Parse("entropy"));
        Assert.Equal([LayerMetric.Lidar, LayerMetric.PromptEntropy], LayerMetricNames.Parse("lidar, prompt_entropy,lidar"));
    }

    [Fact]
    public void ReportsAsJsonAndCsv()
    {
        var r = LayerMetrics.Run(_model, Prompts[..4], new LayerMetricsOptions { Metrics = [LayerMetric.PromptEntropy, LayerMetric.DatasetEntropy] });
        using var doc = System.Text.Json.JsonDocument.Parse(MetricsReport.ToJson(r));
        Assert.Equal(["slots", "metrics"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(_model.Layers + 1, doc.RootElement.GetProperty("slots").GetArrayLength());
        Assert.Equal(["prompt_entropy", "dataset_entropy"], doc.RootElement.GetProperty("metrics").EnumerateObject().Select(p => p.Name));
        var csv = MetricsReport.ToCsv(r).TrimEnd('\n').Split('\n');
        Assert.Equal(_model.Layers + 2, csv.Length);
        Assert.StartsWith("slot,prompt_entropy,prompt_entropy_logN", csv[0]);
    }
}
