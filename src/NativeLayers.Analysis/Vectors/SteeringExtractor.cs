using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

/// <summary>
/// One entry point for every §12 method on one layer's activations: H⁺ (N×D) and, for the contrastive methods,
/// H⁻ (N×D; any row count for <see cref="SteeringMethod.UnpairedMeanDiff"/>). All arithmetic is float64.
/// </summary>
public static class SteeringExtractor
{
    public static ExtractedVector Extract(SteeringMethod method, Matrix positive, Matrix? negative, ExtractionOptions? options = null)
    {
        options ??= ExtractionOptions.Default;
        ArgumentNullException.ThrowIfNull(positive);
        double[] v;
        bool flipped = false;
        double? explained = null;
        double? fraction = null;
        Matrix? differences = null;

        switch (method)
        {
            case SteeringMethod.Reading:
                v = MeanDifference.Reading(positive);
                if (negative is not null) Activations.RequireSameWidth(positive, negative, method.ToString());
                break;
            case SteeringMethod.UnpairedMeanDiff:
                v = MeanDifference.UnpairedMeanDiff(positive, negative ?? throw Missing(method));
                break;
            case SteeringMethod.MeanDiff:
            case SteeringMethod.MeanDiffUnit:
                v = method == SteeringMethod.MeanDiff ? MeanDifference.MeanDiff(positive, negative!) : MeanDifference.MeanDiffUnit(positive, negative!);
                differences = Activations.Differences(positive, negative!);
                break;
            case SteeringMethod.PcaDiffCentered:
            case SteeringMethod.PcaDiffUncentered:
            case SteeringMethod.RepEReading:
            {
                Activations.RequirePairs(positive, negative, method.ToString());
                differences = Activations.Differences(positive, negative!);
                var axis = method switch
                {
                    SteeringMethod.PcaDiffCentered => PrincipalDirection.Centered(differences),
                    SteeringMethod.PcaDiffUncentered => PrincipalDirection.Uncentered(differences),
                    _ => PrincipalDirection.RepEReading(differences, options.Seed),
                };
                v = axis.Direction;
                explained = axis.ExplainedVarianceRatio;
                var sign = SignFixer.Fix(v, differences, options.SignRule);
                flipped = sign.Flipped;
                fraction = sign.FractionCorrectlyOrdered;
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(method), method, "unknown steering method.");
        }

        double? meanDiffNorm = negative is null || negative.Cols != positive.Cols
            ? null
            : VectorMath.Norm(MeanDiffRaw(positive, negative));
        v = Scale(v, options.Scaling, method, meanDiffNorm, positive, negative);
        if (differences is not null && fraction is null) fraction = SignFixer.FractionCorrectlyOrdered(v, differences);

        return new ExtractedVector
        {
            Method = method,
            Values = v,
            Scaling = options.Scaling,
            SignFlipped = flipped,
            FractionCorrectlyOrdered = fraction,
            ExplainedVarianceRatio = explained,
            MeanDiffNorm = meanDiffNorm,
        };
    }

    private static double[] Scale(double[] v, VectorScaling scaling, SteeringMethod method, double? meanDiffNorm, Matrix positive, Matrix? negative)
    {
        double factor;
        switch (scaling.Kind)
        {
            case ScalingKind.None:
                return v;
            case ScalingKind.ToMeanDiffNorm:
                factor = meanDiffNorm ?? throw new NativeLayersException(
                    $"{method} with ScaleToMeanDiffNorm needs negative activations to measure ‖mean d‖.");
                break;
            case ScalingKind.ToResidNorm:
                factor = scaling.Factor * Activations.MedianRowNorm(positive, negative);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(scaling), scaling.Kind, "unknown scaling.");
        }
        var u = VectorMath.Unit(v, $"the {method} vector");
        TensorPrimitives.Multiply(u, factor, u);
        return u;
    }

    private static double[] MeanDiffRaw(Matrix positive, Matrix negative)
    {
        var r = positive.ColumnMeans();
        TensorPrimitives.Subtract(r, negative.ColumnMeans(), r);
        return r;
    }

    private static NativeLayersException Missing(SteeringMethod method) =>
        new($"{method} needs negative activations (H⁻).");
}
