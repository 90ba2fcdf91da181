using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Stitching;

/// <summary>How well a map predicts Y: MSE over all n·d_B entries and R² per output dimension (and their mean).</summary>
public sealed record StitchFitMetrics(int Rows, double Mse, double[] R2PerDimension)
{
    /// <summary>The mean of the finite per-dimension R² values (a constant output column has none).</summary>
    public double MeanR2 => R2PerDimension.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
}

/// <summary>
/// An affine map <c>Ŷ = X W + b</c> from model A's width to model B's (§14), W d_A×d_B, fitted by ridge least squares
/// on centred data: <c>W = (X_cᵀX_c + λI)⁻¹ X_cᵀY_c</c> (Cholesky solve), <c>b = μ_Y − μ_X W</c>.
/// </summary>
public sealed class AffineStitch
{
    /// <summary>d_A × d_B.</summary>
    public Matrix W { get; }
    /// <summary>Length d_B.</summary>
    public double[] Bias { get; }
    /// <summary>The ridge λ actually used.</summary>
    public double Lambda { get; }
    public int InputWidth => W.Rows;
    public int OutputWidth => W.Cols;

    public AffineStitch(Matrix w, double[] bias, double lambda)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(bias);
        if (bias.Length != w.Cols) throw new NativeLayersException($"the bias has {bias.Length} values for a map to width {w.Cols}.");
        W = w; Bias = bias; Lambda = lambda;
    }

    /// <summary>The default ridge of §14: <c>1e-6 · tr(X_cᵀX_c) / d_A</c>.</summary>
    public static double DefaultLambda(Matrix x)
    {
        Kernels.RequireData(x);
        var xc = x.CenterRows();
        return 1e-6 * TensorPrimitives.SumOfSquares<double>(xc.Data) / x.Cols;
    }

    /// <summary>Fits the map from X (n×d_A) to Y (n×d_B); <paramref name="lambda"/> null = the default rule, 0 = plain least squares.</summary>
    public static AffineStitch Fit(Matrix x, Matrix y, double? lambda = null)
    {
        Kernels.RequirePaired(x, y);
        if (lambda is < 0 || lambda is double l && !double.IsFinite(l))
            throw new NativeLayersException($"the ridge λ must be a finite value ≥ 0, got {lambda}.");
        var muX = x.ColumnMeans();
        var muY = y.ColumnMeans();
        var xc = x.CenterRows();
        var yc = y.CenterRows();
        double lam = lambda ?? 1e-6 * TensorPrimitives.SumOfSquares<double>(xc.Data) / x.Cols;
        var xt = DenseKernels.Transpose(xc);
        var gram = DenseKernels.Gram(xt); // X_cᵀX_c
        for (int i = 0; i < gram.Rows; i++) gram.Data[i * gram.Cols + i] += lam;
        var cross = DenseKernels.TimesTranspose(xt, DenseKernels.Transpose(yc)); // X_cᵀY_c
        Cholesky chol;
        try { chol = Cholesky.Factor(gram); }
        catch (NativeLayersException e)
        {
            throw new NativeLayersException($"the stitching fit is singular (λ = {lam:G3}, {x.Rows} rows for width {x.Cols}): {e.Message}");
        }
        var w = chol.Solve(cross);
        var b = new double[y.Cols];
        muY.CopyTo(b, 0);
        for (int k = 0; k < x.Cols; k++)
            TensorPrimitives.MultiplyAdd(w.Row(k), -muX[k], b, b);
        return new AffineStitch(w, b, lam);
    }

    /// <summary><c>X W + b</c> row by row.</summary>
    public Matrix Apply(Matrix x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Cols != InputWidth) throw new NativeLayersException($"the map takes width {InputWidth}, got {x.Cols}.");
        var y = x.Multiply(W);
        for (int r = 0; r < y.Rows; r++)
        {
            var row = y.Row(r);
            TensorPrimitives.Add(row, Bias, row);
        }
        return y;
    }

    /// <summary>Maps float32 residual rows ([rows, d_A]) to float32 rows ([rows, d_B]), computing in float64.</summary>
    public float[] Apply(ReadOnlySpan<float> rows)
    {
        if (rows.Length % InputWidth != 0) throw new NativeLayersException($"the rows are not a multiple of width {InputWidth}.");
        var mapped = Apply(Matrix.FromFloats(rows.Length / InputWidth, InputWidth, rows));
        var result = new float[mapped.Data.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (float)mapped.Data[i];
        return result;
    }

    /// <summary>MSE and per-dimension R² of the prediction of <paramref name="y"/> from <paramref name="x"/>.</summary>
    public StitchFitMetrics Evaluate(Matrix x, Matrix y)
    {
        Kernels.RequirePaired(x, y);
        if (y.Cols != OutputWidth) throw new NativeLayersException($"the map gives width {OutputWidth}, the targets have {y.Cols}.");
        var predicted = Apply(x);
        int n = y.Rows, d = y.Cols;
        var mean = y.ColumnMeans();
        var ssRes = new double[d];
        var ssTot = new double[d];
        for (int r = 0; r < n; r++)
        {
            var yr = y.Row(r);
            var pr = predicted.Row(r);
            for (int k = 0; k < d; k++)
            {
                double e = yr[k] - pr[k], t = yr[k] - mean[k];
                ssRes[k] += e * e;
                ssTot[k] += t * t;
            }
        }
        var r2 = new double[d];
        for (int k = 0; k < d; k++) r2[k] = ssTot[k] > 0 ? 1 - ssRes[k] / ssTot[k] : double.NaN;
        return new StitchFitMetrics(n, ssRes.Sum() / ((double)n * d), r2);
    }
}
