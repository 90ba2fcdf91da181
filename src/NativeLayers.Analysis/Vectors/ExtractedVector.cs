namespace NativeLayers.Analysis.Vectors;

/// <summary>A steering vector for one layer, with the diagnostics of its extraction.</summary>
public sealed record ExtractedVector
{
    public required SteeringMethod Method { get; init; }
    /// <summary>The vector (length D), after sign fixing and scaling.</summary>
    public required double[] Values { get; init; }
    public VectorScaling Scaling { get; init; } = VectorScaling.None;
    /// <summary>True when the sign rule flipped the raw principal axis.</summary>
    public bool SignFlipped { get; init; }
    /// <summary>Fraction of pairs with (h⁺ − h⁻)·v &gt; 0 on the extraction data; null when there are no pairs.</summary>
    public double? FractionCorrectlyOrdered { get; init; }
    /// <summary>For PCA methods: the share of the (centred or uncentred) second moment the axis explains.</summary>
    public double? ExplainedVarianceRatio { get; init; }
    /// <summary>‖mean(H⁺) − mean(H⁻)‖ when negatives were given, else null.</summary>
    public double? MeanDiffNorm { get; init; }

    public double Norm => VectorMath.Norm(Values);

    public float[] ToFloats()
    {
        var f = new float[Values.Length];
        for (int i = 0; i < f.Length; i++) f[i] = (float)Values[i];
        return f;
    }
}
