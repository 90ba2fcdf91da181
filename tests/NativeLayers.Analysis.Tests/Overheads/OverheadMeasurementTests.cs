using NativeLayers.Analysis.Overheads;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Tests.Overheads;

public sealed class OverheadMeasurementTests
{
    [Fact]
    public void EveryFeatureIsMeasuredInEveryPhaseWithItsAnalyticCost()
    {
        using var model = Transformer.Load(SharedModels.Stories260k, new RuntimeOptions { Threads = 2 });
        var settings = new OverheadSettings { PromptTokens = 8, DecodeTokens = 3, Batch = 2, MinimumPairs = 3, Precision = 1e9, Budget = TimeSpan.FromMinutes(2) };
        var reports = new List<OverheadProgress>();
        var results = new OverheadMeasurement(model, settings).Run(new SyncProgress(reports.Add));

        string[] forwardFeatures = [OverheadMeasurement.SteerOneLayer, OverheadMeasurement.SteerEveryLayer, OverheadMeasurement.SteerPerSequence, OverheadMeasurement.CaptureToHost];
        var expected = forwardFeatures.SelectMany(f => new[] { (f, OverheadPhase.Prefill), (f, OverheadPhase.Decode) })
            .Append((OverheadMeasurement.CaptureToDisk, OverheadPhase.Prefill)).ToHashSet();
        Assert.Equal(expected, results.Select(r => (r.Feature.Name, r.Phase)).ToHashSet());
        foreach (var r in results)
        {
            // A precision this loose is met as soon as the minimum number of pairs is in.
            Assert.Equal(settings.MinimumPairs, r.Pairs);
            Assert.InRange(r.MedianRatio, r.Low, r.High);
            Assert.True(r.Low > 0 && double.IsFinite(r.MicrosecondsPerToken));
            Assert.Equal(r.High - 1 <= r.Feature.Target, r.Met);
        }
        Assert.Equal(settings.MinimumPairs * expected.Count, reports.Count);
        Assert.Equal(expected.Count, reports[^1].Precise);

        int layers = model.Layers, width = model.Width;
        var byName = results.GroupBy(r => r.Feature.Name).ToDictionary(g => g.Key, g => g.First().Feature);
        Assert.Equal(width, byName[OverheadMeasurement.SteerOneLayer].Cost.FlopsPerToken);
        Assert.Equal((double)layers * width, byName[OverheadMeasurement.SteerEveryLayer].Cost.FlopsPerToken);
        Assert.Equal(8, byName[OverheadMeasurement.SteerPerSequence].Batch);
        Assert.Equal(2, byName[OverheadMeasurement.SteerEveryLayer].Batch);
        Assert.Equal(4.0 * (layers + 1) * width, byName[OverheadMeasurement.CaptureToHost].Cost.BytesPerToken);
        Assert.Equal(1 / 0.98 - 1, byName[OverheadMeasurement.CaptureToDisk].Target, 12);
        Assert.Empty(Directory.EnumerateDirectories(Path.GetTempPath(), $"nl-overheads-{Environment.ProcessId}-*"));
    }

    [Fact]
    public void TheBudgetEndsAMeasurementThatCannotBecomePrecise()
    {
        using var model = Transformer.Load(SharedModels.Stories260k, new RuntimeOptions { Threads = 2 });
        var settings = new OverheadSettings { PromptTokens = 4, DecodeTokens = 0, Precision = 1e-12, Disk = false, Budget = TimeSpan.FromSeconds(1) };
        var results = new OverheadMeasurement(model, settings).Run();
        Assert.All(results, r => Assert.Equal(OverheadPhase.Prefill, r.Phase));
        Assert.DoesNotContain(results, r => r.Feature.Name == OverheadMeasurement.CaptureToDisk);
        Assert.All(results, r => Assert.True(r.Pairs >= 2));
    }

    [Theory]
    [InlineData(0, 1, 0.005, 8)]
    [InlineData(8, 0, 0.005, 8)]
    [InlineData(8, 1, 0.0, 8)]
    [InlineData(8, 1, 0.005, 1)]
    public void BadSettingsAreRefused(int promptTokens, int batch, double precision, int minimumPairs)
    {
        using var model = Transformer.Load(SharedModels.Stories260k);
        Assert.Throws<ArgumentOutOfRangeException>(() => new OverheadMeasurement(model,
            new OverheadSettings { PromptTokens = promptTokens, Batch = batch, Precision = precision, MinimumPairs = minimumPairs }));
    }

    private sealed class SyncProgress(Action<OverheadProgress> report) : IProgress<OverheadProgress>
    {
        public void Report(OverheadProgress value) => report(value);
    }
}
