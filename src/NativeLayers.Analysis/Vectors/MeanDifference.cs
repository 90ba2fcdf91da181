using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;

namespace NativeLayers.Analysis.Vectors;

/// <summary>The mean-based methods of §12: MeanDiff, MeanDiffUnit, Reading and UnpairedMeanDiff.</summary>
public static class MeanDifference
{
    /// <summary><c>v = mean_i (h⁺_i − h⁻_i)</c> for paired rows.</summary>
    public static double[] MeanDiff(Matrix positive, Matrix negative)
    {
        Activations.RequirePairs(positive, negative, nameof(SteeringMethod.MeanDiff));
        return Subtract(positive.ColumnMeans(), negative.ColumnMeans());
    }

    /// <summary><c>MeanDiff / ‖MeanDiff‖</c>; a zero mean difference is an error.</summary>
    public static double[] MeanDiffUnit(Matrix positive, Matrix negative) =>
        VectorMath.Unit(MeanDiff(positive, negative), "the mean difference");

    /// <summary><c>v = mean_i h⁺_i</c> (no negatives).</summary>
    public static double[] Reading(Matrix positive)
    {
        Activations.RequireRows(positive, "positive", nameof(SteeringMethod.Reading));
        return positive.ColumnMeans();
    }

    /// <summary>
    /// <c>mean(H⁺) − mean(H⁻)</c> where the rows are unpaired and the counts may differ (Kannan (b): one
    /// MeanPool'd final-layer row per prompt, e.g. 16 honest vs 18 dishonest).
    /// </summary>
    public static double[] UnpairedMeanDiff(Matrix positive, Matrix negative)
    {
        string name = nameof(SteeringMethod.UnpairedMeanDiff);
        Activations.RequireRows(positive, "positive", name);
        Activations.RequireRows(negative, "negative", name);
        Activations.RequireSameWidth(positive, negative, name);
        return Subtract(positive.ColumnMeans(), negative.ColumnMeans());
    }

    private static double[] Subtract(double[] a, double[] b)
    {
        var r = new double[a.Length];
        TensorPrimitives.Subtract(a, b, r);
        return r;
    }
}
