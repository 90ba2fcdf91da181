using System.Diagnostics;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Overheads;

/// <summary>
/// Prices each residual-stream feature against the plain forward pass in one process, in a paired, interleaved
/// design: every repetition runs the same random prompts plain and with the feature, the order alternating from one
/// pair to the next, after a warm-up of both. The cells (feature × phase) take turns, so drift of a shared machine
/// falls on all of them alike, and each stops once its 95% bootstrap interval of the median ratio is as narrow as
/// asked (or the time budget ends).
/// </summary>
public sealed class OverheadMeasurement
{
    public const string SteerOneLayer = "steer 1 layer";
    public const string SteerEveryLayer = "steer every layer";
    public const string SteerPerSequence = "per-sequence steering";
    public const string CaptureToHost = "capture all slots to host";
    public const string CaptureToDisk = "capture to disk";
    public const string SaeSplice = "SAE splice";
    private const int PerSequenceVectors = 8, DiskShards = 4;

    private readonly Transformer _model;
    private readonly OverheadSettings _settings;
    private readonly ForwardOptions _plain = new() { Logits = LogitsMode.LastPerSequence, HostSlots = [] };

    public OverheadMeasurement(Transformer model, OverheadSettings? settings = null)
    {
        _model = model;
        _settings = settings ?? new OverheadSettings();
        _settings.Validate();
        Features = BuildFeatures();
    }

    public IReadOnlyList<OverheadFeature> Features { get; }

    public IReadOnlyList<OverheadResult> Run(IProgress<OverheadProgress>? progress = null, CancellationToken cancel = default)
    {
        var cells = Features.SelectMany(f => f.Phases.Select(phase => new Cell(f, phase, Runner(f, phase)))).ToList();
        foreach (var cell in cells)
        {
            cell.Run(0, feature: false);
            cell.Run(0, feature: true);
        }
        var clock = Stopwatch.StartNew();
        int pair = 0;
        while (cells.Any(c => !c.Precise) && clock.Elapsed < _settings.Budget)
        {
            pair++;
            foreach (var cell in cells.Where(c => !c.Precise))
            {
                cancel.ThrowIfCancellationRequested();
                GC.Collect();
                GC.WaitForPendingFinalizers();
                bool featureFirst = pair % 2 == 0;
                double first = cell.Run(pair, featureFirst), second = cell.Run(pair, !featureFirst);
                cell.Ratios.Add(featureFirst ? second : first, featureFirst ? first : second);
                cell.Precise = cell.Ratios.Count >= _settings.MinimumPairs && cell.Ratios.HalfWidth() <= _settings.Precision;
                progress?.Report(new OverheadProgress(clock.Elapsed, _settings.Budget, cells.Count(c => c.Precise), cells.Count));
                if (clock.Elapsed >= _settings.Budget) break;
            }
        }
        return cells.Where(c => c.Ratios.Count >= 2).Select(c =>
        {
            var (low, high) = c.Ratios.ConfidenceInterval();
            return new OverheadResult(c.Feature, c.Phase, c.Ratios.Count, c.Ratios.MedianRatio, low, high, c.Ratios.MedianDifference / TokensPerUnit(c.Feature, c.Phase) * 1e6);
        }).ToList();
    }

    private double TokensPerUnit(OverheadFeature feature, OverheadPhase phase) =>
        feature.Batch * (phase == OverheadPhase.Decode ? _settings.DecodeTokens : _settings.PromptTokens) * (feature.Name == CaptureToDisk ? DiskShards : 1);

    private List<OverheadFeature> BuildFeatures()
    {
        int layers = _model.Layers, width = _model.Width, batch = _settings.Batch;
        OverheadPhase[] both = _settings.DecodeTokens > 0 ? [OverheadPhase.Prefill, OverheadPhase.Decode] : [OverheadPhase.Prefill];
        AnalyticCost Steering(int steered, int vectorsRead) => new(8.0 * steered * width + 4.0 * vectorsRead * width / batch, (double)steered * width,
            $"{steered} × {width} adds; ≤ 8·{steered}·{width} bytes (each row read and written; nothing when folded into a projection's bias)");
        double slotBytes = 4.0 * (layers + 1) * width;
        var features = new List<OverheadFeature>
        {
            new(SteerOneLayer, batch, both, Steering(1, 1), 0.01),
            new(SteerEveryLayer, batch, both, Steering(layers, layers), 0.01),
            new(SteerPerSequence, Math.Max(batch, PerSequenceVectors), both, Steering(layers, layers * PerSequenceVectors), 0.02),
            new(CaptureToHost, batch, both, new(slotBytes, 0, $"{layers + 1} slots × {width} floats kept per token instead of two reused buffers"), 0.02),
        };
        if (_settings.Sae is { } sae)
        {
            double weights = 2.0 * sae.InputWidth * sae.Features;
            features.Add(new(SaeSplice, batch, both, new(4 * weights / batch, 2 * weights,
                $"encode and decode, 2 × {sae.InputWidth} × {sae.Features} multiply-adds per token; the weights read once per forward"), double.PositiveInfinity));
        }
        if (_settings.Disk)
            features.Add(new(CaptureToDisk, batch, [OverheadPhase.Prefill],
                new(2 * slotBytes, 0, $"{layers + 1} slots × {width} F32 per token to host and to a safetensors shard"), 1 / 0.98 - 1));
        return features;
    }

    /// <summary>The timed unit of a cell: (pair, with the feature) → seconds.</summary>
    private Func<int, bool, double> Runner(OverheadFeature feature, OverheadPhase phase)
    {
        if (feature.Name == CaptureToDisk) return DiskRunner(feature.Batch);
        var with = FeatureOptions(feature);
        return (pair, on) =>
        {
            var (prompts, steps) = Work(pair, feature.Batch);
            var options = on ? with : _plain;
            return phase == OverheadPhase.Prefill ? TimePrefill(options, prompts) : TimeDecode(options, prompts, steps);
        };
    }

    private ForwardOptions FeatureOptions(OverheadFeature feature)
    {
        var random = new Random(7);
        float[] Vector() => Enumerable.Range(0, _model.Width).Select(_ => (float)(random.NextDouble() - 0.5) * 0.01f).ToArray();
        SteeringPlan EveryLayer()
        {
            var plan = new SteeringPlan();
            for (int layer = 0; layer < _model.Layers; layer++) plan.AddVector(layer, Vector(), 1f);
            return plan;
        }
        return feature.Name switch
        {
            SteerOneLayer => _plain with { Steering = new SteeringPlan().AddVector(_model.Layers / 2, Vector(), 1f) },
            SteerEveryLayer => _plain with { Steering = EveryLayer() },
            SteerPerSequence => PerSequence(Enumerable.Range(0, PerSequenceVectors).Select(_ => EveryLayer()).ToArray(), feature.Batch),
            CaptureToHost => _plain with { HostSlots = null },
            SaeSplice => _plain with
            {
                Steering = new SteeringPlan().Transform(Saes.SaeEvaluation.HookOf(_model, _settings.Sae!), new Saes.SaeSplice(_settings.Sae!)),
            },
            _ => throw new ArgumentException($"unknown feature '{feature.Name}'.", nameof(feature)),
        };
    }

    private ForwardOptions PerSequence(SteeringPlan[] plans, int batch) =>
        _plain with { SequenceSteering = Enumerable.Range(0, batch).Select(i => (SteeringPlan?)plans[i % plans.Length]).ToArray() };

    /// <summary>
    /// The dataset capture of <see cref="DiskShards"/> shards of one batch each (every slot, every token, F32) into a
    /// fresh folder, against plain forwards of the same batches; the folder is removed outside the timing.
    /// </summary>
    private Func<int, bool, double> DiskRunner(int batch)
    {
        var plan = new CapturePlan { Hooks = CapturePlan.SlotHooks(Enumerable.Range(0, _model.Layers + 1)) };
        var plain = _plain with { Logits = LogitsMode.None };
        return (pair, on) =>
        {
            var prompts = Enumerable.Range(0, DiskShards).SelectMany(shard => Work(pair * DiskShards + shard, batch).Prompts).ToArray();
            if (!on)
            {
                var clock = Stopwatch.StartNew();
                for (int shard = 0; shard < DiskShards; shard++) _model.Forward(prompts[(shard * batch)..((shard + 1) * batch)], plain);
                return clock.Elapsed.TotalSeconds;
            }
            string folder = Path.Combine(Path.GetTempPath(), $"nl-overheads-{Environment.ProcessId}-{Guid.NewGuid():N}");
            try
            {
                var clock = Stopwatch.StartNew();
                DatasetCapture.Run(_model, prompts, plan, folder, new DatasetCaptureOptions { BatchSize = batch, PromptsPerShard = batch });
                return clock.Elapsed.TotalSeconds;
            }
            finally
            {
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
        };
    }

    /// <summary>The random prompts (and decode tokens) of one pair, the same for both sides of it.</summary>
    private (int[][] Prompts, int[][][] Steps) Work(int pair, int batch)
    {
        var random = new Random(1000 + pair);
        int Token() => random.Next(_model.VocabSize);
        var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, _settings.PromptTokens).Select(_ => Token()).ToArray()).ToArray();
        var steps = Enumerable.Range(0, _settings.DecodeTokens).Select(_ => Enumerable.Range(0, batch).Select(_ => new[] { Token() }).ToArray()).ToArray();
        return (prompts, steps);
    }

    private double TimePrefill(ForwardOptions options, int[][] prompts)
    {
        var sequences = prompts.Select(p => _model.NewSequence(p.Length)).ToArray();
        var clock = Stopwatch.StartNew();
        _model.Forward(sequences, prompts, options);
        return clock.Elapsed.TotalSeconds;
    }

    private double TimeDecode(ForwardOptions options, int[][] prompts, int[][][] steps)
    {
        var sequences = prompts.Select(p => _model.NewSequence(p.Length + steps.Length)).ToArray();
        _model.Forward(sequences, prompts, options);
        var clock = Stopwatch.StartNew();
        foreach (var step in steps) _model.Forward(sequences, step, options);
        return clock.Elapsed.TotalSeconds;
    }

    private sealed class Cell(OverheadFeature feature, OverheadPhase phase, Func<int, bool, double> run)
    {
        public OverheadFeature Feature { get; } = feature;
        public OverheadPhase Phase { get; } = phase;
        public PairedRatios Ratios { get; } = new();
        public bool Precise { get; set; }
        public double Run(int pair, bool feature) => run(pair, feature);
    }
}
