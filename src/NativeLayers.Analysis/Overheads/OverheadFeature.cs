namespace NativeLayers.Analysis.Overheads;

/// <summary>Where a feature's cost is measured: a fresh prompt's prefill, or decode steps after it.</summary>
public enum OverheadPhase { Prefill, Decode }

/// <summary>
/// What a feature should cost per token from first principles: the extra bytes it moves and the extra floating-point
/// operations it performs (upper bounds; a steering addition folded into a projection's bias moves nothing).
/// </summary>
public readonly record struct AnalyticCost(double BytesPerToken, double FlopsPerToken, string Explanation);

/// <summary>One feature to price against the plain forward pass, with the overhead it should stay under.</summary>
public sealed record OverheadFeature(string Name, int Batch, IReadOnlyList<OverheadPhase> Phases, AnalyticCost Cost, double Target);

/// <summary>
/// A measured feature in one phase: the median of the paired time ratios (feature ÷ plain) with its bootstrap 95%
/// interval, the absolute cost per token, and whether the interval's upper bound stays under the target.
/// </summary>
public sealed record OverheadResult(OverheadFeature Feature, OverheadPhase Phase, int Pairs, double MedianRatio, double Low, double High,
    double MicrosecondsPerToken)
{
    public double Overhead => MedianRatio - 1;
    public double HalfWidth => (High - Low) / 2;
    /// <summary>The interval's upper bound is under the target (always false for a feature without one).</summary>
    public bool Met => High - 1 <= Feature.Target;
    public bool HasTarget => double.IsFinite(Feature.Target);
}

/// <summary>How a measurement runs: the work per repetition, the precision wanted and the time it may take.</summary>
public sealed record OverheadSettings
{
    public int PromptTokens { get; init; } = 128;
    public int DecodeTokens { get; init; } = 16;
    public int Batch { get; init; } = 1;
    /// <summary>The interval half-width (fraction of the plain time) at which a feature is measured precisely enough.</summary>
    public double Precision { get; init; } = 0.005;
    public int MinimumPairs { get; init; } = 8;
    public TimeSpan Budget { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Include the dataset capture to disk (a temporary folder per repetition).</summary>
    public bool Disk { get; init; } = true;
    /// <summary>An SAE to price spliced into its hook point at every position (null: none).</summary>
    public Saes.SparseAutoencoder? Sae { get; init; }

    public void Validate()
    {
        if (PromptTokens < 1) throw new ArgumentOutOfRangeException(nameof(PromptTokens), "the prompt needs at least one token.");
        if (DecodeTokens < 0) throw new ArgumentOutOfRangeException(nameof(DecodeTokens), "decode tokens must be ≥ 0.");
        if (Batch < 1) throw new ArgumentOutOfRangeException(nameof(Batch), "the batch needs at least one sequence.");
        if (!(Precision > 0)) throw new ArgumentOutOfRangeException(nameof(Precision), "the precision must be > 0.");
        if (MinimumPairs < 2) throw new ArgumentOutOfRangeException(nameof(MinimumPairs), "at least two pairs are needed for an interval.");
    }
}

/// <summary>Where a running measurement stands.</summary>
public readonly record struct OverheadProgress(TimeSpan Elapsed, TimeSpan Budget, int Precise, int Cells);
