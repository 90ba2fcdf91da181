using System.Numerics.Tensors;

namespace NativeLayers.Runtime.Hooks;

/// <summary>The row operations of steering (metrics.md §13).</summary>
public static class SteeringMath
{
    /// <summary>
    /// row += c · v. scaleToResidualNorm: v is first rescaled to ‖row‖ (c becomes relative to the residual);
    /// preserveNorm: the row is rescaled back to its pre-addition norm afterwards.
    /// </summary>
    public static void Add(Span<float> row, ReadOnlySpan<float> vector, float coefficient, bool scaleToResidualNorm = false, bool preserveNorm = false)
    {
        float before = TensorPrimitives.Norm(row);
        if (scaleToResidualNorm)
        {
            float vectorNorm = TensorPrimitives.Norm(vector);
            coefficient *= vectorNorm > 0 ? before / vectorNorm : 0;
        }
        TensorPrimitives.MultiplyAdd(vector, coefficient, row, row);
        if (preserveNorm)
        {
            float after = TensorPrimitives.Norm(row);
            if (after > 0) TensorPrimitives.Multiply(row, before / after, row);
        }
    }

    /// <summary>row ← row − (row·u)u with u = direction / ‖direction‖.</summary>
    public static void ProjectOut(Span<float> row, ReadOnlySpan<float> direction)
    {
        double norm2 = TensorPrimitives.Dot(direction, direction);
        float projection = (float)(TensorPrimitives.Dot(row, direction) / norm2);
        TensorPrimitives.MultiplyAdd(direction, -projection, row, row);
    }
}
