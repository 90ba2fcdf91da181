using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

public enum ScalingKind
{
    /// <summary>Leave the method's natural output.</summary>
    None,
    /// <summary>Unit direction × ‖mean d‖ (repana <c>standardize=true</c>, used in (d)'s configs).</summary>
    ToMeanDiffNorm,
    /// <summary>Unit direction × r × median ‖row‖ over the activations given (comparable coefficients across layers).</summary>
    ToResidNorm,
}

/// <summary>
/// The §12 scaling options. Scaling applies to the unit direction of the extracted vector (a natural-norm method's
/// output is normalised first), after the sign has been fixed.
/// </summary>
public readonly record struct VectorScaling(ScalingKind Kind, double Factor)
{
    public static VectorScaling None => new(ScalingKind.None, 1);

    public static VectorScaling ScaleToMeanDiffNorm => new(ScalingKind.ToMeanDiffNorm, 1);

    /// <summary>Multiply the unit direction by <paramref name="r"/> × the median row norm of the activations.</summary>
    public static VectorScaling ScaleToResidNorm(double r)
    {
        if (!double.IsFinite(r)) throw new NativeLayersException($"the residual-norm scale must be finite, got {r}.");
        return new(ScalingKind.ToResidNorm, r);
    }

    public override string ToString() => Kind switch
    {
        ScalingKind.None => "None",
        ScalingKind.ToMeanDiffNorm => "ScaleToMeanDiffNorm",
        _ => FormattableString.Invariant($"ScaleToResidNorm({Factor})"),
    };
}
