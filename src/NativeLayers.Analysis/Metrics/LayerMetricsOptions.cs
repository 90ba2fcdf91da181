using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>The per-layer metrics <see cref="LayerMetrics"/> can compute.</summary>
public enum LayerMetric { PromptEntropy, DatasetEntropy, Curvature, EffectiveRank, InfoNce, Lidar, Dime }

/// <summary>Names of <see cref="LayerMetric"/>: kebab-case on the command line, snake_case in JSON/CSV.</summary>
public static class LayerMetricNames
{
    public static readonly LayerMetric[] All = Enum.GetValues<LayerMetric>();

    public static string Cli(LayerMetric metric) => metric switch
    {
        LayerMetric.PromptEntropy => "prompt-entropy",
        LayerMetric.DatasetEntropy => "dataset-entropy",
        LayerMetric.Curvature => "curvature",
        LayerMetric.EffectiveRank => "effective-rank",
        LayerMetric.InfoNce => "infonce",
        LayerMetric.Lidar => "lidar",
        LayerMetric.Dime => "dime",
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };

    public static string Json(LayerMetric metric) => Cli(metric).Replace('-', '_');

    /// <summary>Parses a comma-separated list (kebab or snake case, duplicates removed, order kept).</summary>
    public static IReadOnlyList<LayerMetric> Parse(string list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var result = new List<LayerMetric>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string key = part.ToLowerInvariant().Replace('_', '-');
            var metric = All.FirstOrDefault(m => Cli(m) == key, (LayerMetric)(-1));
            if ((int)metric < 0)
                throw new NativeLayersException($"unknown metric '{part}'; choose from {string.Join(", ", All.Select(Cli))}.");
            if (!result.Contains(metric)) result.Add(metric);
        }
        if (result.Count == 0) throw new NativeLayersException($"no metric given; choose from {string.Join(", ", All.Select(Cli))}.");
        return result;
    }

    /// <summary>Whether the metric needs augmented copies of text prompts (§6).</summary>
    public static bool NeedsAugmentations(LayerMetric metric) => metric is LayerMetric.InfoNce or LayerMetric.Lidar or LayerMetric.Dime;
}

/// <summary>Settings of a <see cref="LayerMetrics"/> run.</summary>
public sealed record LayerMetricsOptions
{
    public IReadOnlyList<LayerMetric> Metrics { get; init; } =
        [LayerMetric.PromptEntropy, LayerMetric.DatasetEntropy, LayerMetric.Curvature, LayerMetric.EffectiveRank];
    /// <summary>Rényi order α of every entropy (§1); 1 = von Neumann.</summary>
    public double Alpha { get; init; } = 1;
    public MetricMode Mode { get; init; } = MetricMode.Recommended;
    /// <summary>Sequences per forward call.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Truncate prompts (and augmented copies) to this many tokens; 0 = no limit.</summary>
    public int MaxTokens { get; init; }
    /// <summary>InfoNCE temperature τ (§7).</summary>
    public double Temperature { get; init; } = InfoNce.DefaultTemperature;
    /// <summary>Augmented copies per prompt for LiDAR (§6: 16). InfoNCE and DiME use the first two.</summary>
    public int LidarAugmentations { get; init; } = 16;
    /// <summary>LiDAR's ridge δ (§8).</summary>
    public double LidarDelta { get; init; } = Lidar.DefaultDelta;
    /// <summary>Random permutations for DiME (§9).</summary>
    public int DimePermutations { get; init; } = Dime.DefaultPermutations;
    /// <summary>Seed of the augmentations and of DiME's permutations (recorded in the result).</summary>
    public ulong Seed { get; init; }

    internal void Validate()
    {
        if (Metrics is null || Metrics.Count == 0) throw new NativeLayersException("no metric requested.");
        RenyiEntropy.CheckAlpha(Alpha);
        if (BatchSize < 1) throw new NativeLayersException($"the batch size must be ≥ 1, got {BatchSize}.");
        if (MaxTokens < 0) throw new NativeLayersException($"the token limit must be ≥ 0, got {MaxTokens}.");
        if (!(Temperature > 0) || !double.IsFinite(Temperature)) throw new NativeLayersException($"the temperature must be > 0, got {Temperature}.");
        if (LidarAugmentations < 2) throw new NativeLayersException($"LiDAR needs at least 2 augmentations per prompt, got {LidarAugmentations}.");
        if (DimePermutations < 1) throw new NativeLayersException($"DiME needs at least one permutation, got {DimePermutations}.");
    }
}

/// <summary>Progress of a run: a phase ("forward", "augmented forward", "metrics"), and items done out of a total.</summary>
public readonly record struct LayerMetricsProgress(string Phase, int Done, int Total);

/// <summary>
/// Per-slot results of <see cref="LayerMetrics"/>. <see cref="Values"/> holds one array per requested metric
/// (snake_case name, one value per slot, NaN where undefined); <see cref="Details"/> holds every number computed
/// (the values plus normalised variants, MI bound, SimClr loss, LiDAR's effective rank, DiME's spread, counts).
/// </summary>
public sealed class LayerMetricsResult
{
    public required int[] Slots { get; init; }
    public required IReadOnlyList<LayerMetric> Metrics { get; init; }
    public required IReadOnlyDictionary<string, double[]> Values { get; init; }
    public required IReadOnlyDictionary<string, double[]> Details { get; init; }
    public required double Alpha { get; init; }
    public required MetricMode Mode { get; init; }
    public required ulong Seed { get; init; }
    /// <summary>Prompts given.</summary>
    public required int Prompts { get; init; }
    /// <summary>Model width D.</summary>
    public required int Width { get; init; }
    /// <summary>Notes for the report: skipped prompts (single token, zero centred tokens), dropped or zero pooled rows, PaperCompat caveats.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }
}
