namespace NativeLayers.Analysis.Vectors;

/// <summary>Options for <see cref="SteeringExtractor.Extract"/>.</summary>
public sealed record ExtractionOptions
{
    public static ExtractionOptions Default { get; } = new();

    /// <summary>Sign rule for the PCA methods (and RepEReading).</summary>
    public SignRule SignRule { get; init; } = SignRule.Repeng;

    public VectorScaling Scaling { get; init; } = VectorScaling.None;

    /// <summary>Seed of the random pair flips of <see cref="SteeringMethod.RepEReading"/>.</summary>
    public int Seed { get; init; }
}
