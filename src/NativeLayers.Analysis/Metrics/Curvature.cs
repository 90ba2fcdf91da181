using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// Curvature (metrics.md §5, after Hosseini &amp; Fedorenko 2023): the mean angle between consecutive steps
/// <c>v_k = z_{k+1} − z_k</c> of a token trajectory, in radians. Zero-length steps give angle 0 and are counted.
/// <see cref="Compute"/> works on the rows as given (the E5 example); <see cref="OfPrompt"/> applies TokenNorm first,
/// as (a) does. The absolute variant (PaperCompat) uses |cos|, so every angle is in [0, π/2].
/// </summary>
public static class Curvature
{
    /// <summary>Mean step angle of the rows of <paramref name="z"/> (T ≥ 3).</summary>
    public static double Compute(Matrix z, bool absolute = false)
    {
        ArgumentNullException.ThrowIfNull(z);
        int t = z.Rows, d = z.Cols;
        if (t < 3) throw new NativeLayersException($"curvature needs at least 3 tokens, got {t}.");
        var prev = new double[d];
        var next = new double[d];
        Step(z, 0, prev);
        double prevNorm = Norm(prev);
        double sum = 0;
        for (int k = 1; k < t - 1; k++)
        {
            Step(z, k, next);
            double nextNorm = Norm(next);
            double angle = 0;
            if (prevNorm > 0 && nextNorm > 0)
            {
                double cos = System.Numerics.Tensors.TensorPrimitives.Dot<double>(next, prev) / (nextNorm * prevNorm);
                if (absolute) cos = Math.Abs(cos);
                angle = Math.Acos(Math.Clamp(cos, -1, 1));
            }
            sum += angle;
            (prev, next) = (next, prev);
            prevNorm = nextNorm;
        }
        return sum / (t - 2);
    }

    /// <summary>
    /// Curvature of one prompt at one layer as (a) computes it: TokenNorm, then <see cref="Compute"/>; the absolute
    /// variant in PaperCompat mode.
    /// </summary>
    public static double OfPrompt(Matrix z, MetricMode mode = MetricMode.Recommended) =>
        Compute(Preprocessing.TokenNorm(z, MetricMode.Recommended), absolute: mode == MetricMode.PaperCompat);

    /// <summary>The <c>logD</c> variant: curvature divided by ln D.</summary>
    public static double LogD(double curvature, int d) => curvature / Math.Log(d);

    private static void Step(Matrix z, int k, double[] into)
    {
        int d = z.Cols;
        System.Numerics.Tensors.TensorPrimitives.Subtract(
            new ReadOnlySpan<double>(z.Data, (k + 1) * d, d), new ReadOnlySpan<double>(z.Data, k * d, d), into);
    }

    private static double Norm(double[] v) => System.Numerics.Tensors.TensorPrimitives.Norm<double>(v);
}
