using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

/// <summary>A unit principal axis before sign fixing, with the share of the second moment it explains.</summary>
public readonly record struct PrincipalAxis(double[] Direction, double ExplainedVarianceRatio);

/// <summary>
/// The PCA methods of §12 on pair differences, via the thin SVD of the N×D difference matrix (the Gram of the
/// smaller side). The returned axes are unit vectors whose sign is not yet fixed; see <see cref="SignFixer"/>.
/// </summary>
public static class PrincipalDirection
{
    /// <summary>First principal axis of <c>{d_i − d̄}</c>; needs N ≥ 2.</summary>
    public static PrincipalAxis Centered(Matrix differences)
    {
        if (differences.Rows < 2)
            throw new NativeLayersException($"{nameof(SteeringMethod.PcaDiffCentered)} needs at least 2 pairs, got {differences.Rows}.");
        return TopAxis(differences.CenterRows(), nameof(SteeringMethod.PcaDiffCentered));
    }

    /// <summary>Top eigenvector of <c>Σ_i d_i d_iᵀ</c> (no centring).</summary>
    public static PrincipalAxis Uncentered(Matrix differences) =>
        TopAxis(differences, nameof(SteeringMethod.PcaDiffUncentered));

    /// <summary>
    /// RepE reading vector: flip each d_i with probability ½ (System.Random seeded with <paramref name="seed"/>),
    /// centre, and take the first principal axis. Needs N ≥ 2.
    /// </summary>
    public static PrincipalAxis RepEReading(Matrix differences, int seed)
    {
        if (differences.Rows < 2)
            throw new NativeLayersException($"{nameof(SteeringMethod.RepEReading)} needs at least 2 pairs, got {differences.Rows}.");
        var flipped = differences.Clone();
        var random = new Random(seed);
        for (int i = 0; i < flipped.Rows; i++)
            if (random.NextDouble() < 0.5)
            {
                var row = flipped.Row(i);
                TensorPrimitives.Negate(row, row);
            }
        return TopAxis(flipped.CenterRows(), nameof(SteeringMethod.RepEReading));
    }

    private static PrincipalAxis TopAxis(Matrix data, string method)
    {
        double total = TensorPrimitives.SumOfSquares<double>(data.Data);
        if (!(total > 0))
            throw new NativeLayersException($"{method}: the pair differences have no variance to take a principal axis of.");
        var svd = ThinSvd.Compute(data, maxComponents: 1);
        if (svd.Rank == 0)
            throw new NativeLayersException($"{method}: the pair differences have no variance to take a principal axis of.");
        double s = svd.SingularValues[0];
        return new PrincipalAxis(svd.RightVector(0), Math.Min(1, s * s / total));
    }
}
