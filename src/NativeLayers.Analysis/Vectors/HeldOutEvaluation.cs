using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

/// <summary>
/// How well a vector separates held-out pairs. Projections are onto the unit direction v/‖v‖, so the numbers do not
/// depend on the vector's scale.
/// </summary>
/// <param name="Pairs">Number of held-out pairs.</param>
/// <param name="FractionCorrect">Fraction of pairs with (h⁺ − h⁻)·v &gt; 0.</param>
/// <param name="MeanGap">mean_i (h⁺_i − h⁻_i)·v̂.</param>
/// <param name="CohensD">Cohen's d of the projections of H⁺ vs H⁻: mean gap / pooled standard deviation
/// (sample variances, n−1). ±∞ when the pooled deviation is 0 and the gap is not; NaN with fewer than 2 pairs or when
/// both are 0.</param>
public readonly record struct HeldOutScore(int Pairs, double FractionCorrect, double MeanGap, double CohensD);

public static class HeldOutEvaluation
{
    public static HeldOutScore Evaluate(ReadOnlySpan<double> vector, Matrix positive, Matrix negative)
    {
        const string name = "held-out evaluation";
        Activations.RequirePairs(positive, negative, name);
        if (vector.Length != positive.Cols)
            throw new NativeLayersException($"{name}: the vector has width {vector.Length} but the activations {positive.Cols}.");
        var u = VectorMath.Unit(vector, "the evaluated vector");
        int n = positive.Rows;
        var pp = new double[n];
        var pn = new double[n];
        int correct = 0;
        for (int i = 0; i < n; i++)
        {
            pp[i] = VectorMath.Dot(positive.Row(i), u);
            pn[i] = VectorMath.Dot(negative.Row(i), u);
            // Decide the ordering on the difference itself, as the extraction does.
            double g = 0;
            var a = positive.Row(i);
            var b = negative.Row(i);
            for (int k = 0; k < u.Length; k++) g += (a[k] - b[k]) * u[k];
            if (g > 0) correct++;
        }
        double meanP = pp.Average(), meanN = pn.Average();
        double gap = meanP - meanN;
        double d = double.NaN;
        if (n >= 2)
        {
            double ssP = 0, ssN = 0;
            for (int i = 0; i < n; i++)
            {
                ssP += (pp[i] - meanP) * (pp[i] - meanP);
                ssN += (pn[i] - meanN) * (pn[i] - meanN);
            }
            double pooled = Math.Sqrt((ssP + ssN) / (2 * n - 2));
            d = pooled > 0 ? gap / pooled : gap == 0 ? double.NaN : gap > 0 ? double.PositiveInfinity : double.NegativeInfinity;
        }
        return new HeldOutScore(n, (double)correct / n, gap, d);
    }
}
