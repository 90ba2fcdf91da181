using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Probes;

/// <summary>Settings of a linear probe.</summary>
public sealed record ProbeOptions
{
    /// <summary>λ of the penalty (λ/2)‖W‖² added to the mean cross-entropy (the bias is not penalised).</summary>
    public double L2 { get; init; } = 1e-3;
    public int MaxIterations { get; init; } = 500;
    /// <summary>Stop when the gradient's largest component is below this.</summary>
    public double GradientTolerance { get; init; } = 1e-6;
    /// <summary>L-BFGS history length.</summary>
    public int Memory { get; init; } = 10;
    /// <summary>Z-score every feature with the training mean and standard deviation first (recommended: residual features have very different scales).</summary>
    public bool Standardize { get; init; } = true;
}

/// <summary>
/// Multinomial logistic regression with L2, fitted by full-batch L-BFGS with a backtracking (Armijo) line search:
/// deterministic, a fixed iteration cap and tolerance, float64. Minimises
/// <c>(1/n) Σ −log softmax(W x_i + b)[y_i] + (λ/2)‖W‖²</c>.
/// </summary>
public sealed class LogisticProbe
{
    /// <summary>C × d (in standardised units when <see cref="ProbeOptions.Standardize"/>).</summary>
    public Matrix Weights { get; }
    public double[] Bias { get; }
    public double[] FeatureMean { get; }
    public double[] FeatureScale { get; }
    public int Classes => Weights.Rows;
    public int Iterations { get; }
    public bool Converged { get; }
    /// <summary>The objective at the solution (penalty included).</summary>
    public double Objective { get; }

    private LogisticProbe(Matrix w, double[] b, double[] mean, double[] scale, int iterations, bool converged, double objective)
    {
        Weights = w; Bias = b; FeatureMean = mean; FeatureScale = scale; Iterations = iterations; Converged = converged; Objective = objective;
    }

    public static LogisticProbe Train(Matrix x, IReadOnlyList<int> labels, int classes, ProbeOptions? options = null)
    {
        Kernels.RequireData(x);
        options ??= new ProbeOptions();
        if (labels.Count != x.Rows) throw new NativeLayersException($"{x.Rows} rows but {labels.Count} labels.");
        if (classes < 2) throw new NativeLayersException("a probe needs at least two classes.");
        foreach (int label in labels) if ((uint)label >= (uint)classes) throw new NativeLayersException($"label {label} is outside 0..{classes - 1}.");
        if (options.L2 < 0 || options.MaxIterations < 1 || options.Memory < 1) throw new NativeLayersException("invalid probe options.");
        int n = x.Rows, d = x.Cols, c = classes;
        var (mean, scale) = options.Standardize ? Moments(x) : (new double[d], Enumerable.Repeat(1.0, d).ToArray());
        var z = Transform(x, mean, scale);
        int[] y = [.. labels];

        int size = c * (d + 1); // θ = [W (c×d) | b (c)]
        var theta = new double[size];
        var grad = new double[size];
        double f = Evaluate(z, y, c, options.L2, theta, grad);
        var sHist = new List<double[]>();
        var yHist = new List<double[]>();
        var rhoHist = new List<double>();
        int iteration = 0;
        bool converged = Math.Abs(TensorPrimitives.MaxMagnitude<double>(grad)) <= options.GradientTolerance;
        var direction = new double[size];
        var trial = new double[size];
        var trialGrad = new double[size];
        var alpha = new double[options.Memory];
        while (!converged && iteration < options.MaxIterations)
        {
            iteration++;
            // Two-loop recursion: direction = −H g.
            grad.CopyTo(direction, 0);
            for (int k = sHist.Count - 1; k >= 0; k--)
            {
                alpha[k] = rhoHist[k] * TensorPrimitives.Dot<double>(sHist[k], direction);
                TensorPrimitives.MultiplyAdd(yHist[k], -alpha[k], direction, direction);
            }
            double gamma = sHist.Count > 0
                ? TensorPrimitives.Dot<double>(sHist[^1], yHist[^1]) / TensorPrimitives.Dot<double>(yHist[^1], yHist[^1])
                : 1 / Math.Max(1, TensorPrimitives.Norm<double>(grad));
            TensorPrimitives.Multiply(direction, gamma, direction);
            for (int k = 0; k < sHist.Count; k++)
            {
                double beta = rhoHist[k] * TensorPrimitives.Dot<double>(yHist[k], direction);
                TensorPrimitives.MultiplyAdd(sHist[k], alpha[k] - beta, direction, direction);
            }
            TensorPrimitives.Negate(direction, direction);
            double slope = TensorPrimitives.Dot<double>(grad, direction);
            if (!(slope < 0))
            {
                // Not a descent direction (round-off): restart from steepest descent.
                sHist.Clear(); yHist.Clear(); rhoHist.Clear();
                TensorPrimitives.Negate(grad, direction);
                slope = -TensorPrimitives.Dot<double>(grad, grad);
            }
            double step = 1, fNew = double.NaN;
            bool accepted = false;
            for (int tries = 0; tries < 60; tries++)
            {
                TensorPrimitives.MultiplyAdd(direction, step, theta, trial);
                fNew = Evaluate(z, y, c, options.L2, trial, trialGrad);
                if (fNew <= f + 1e-4 * step * slope) { accepted = true; break; }
                step *= 0.5;
            }
            if (!accepted) break; // no further decrease possible at float64 precision
            var s = new double[size];
            var yy = new double[size];
            TensorPrimitives.Subtract(trial, theta, s);
            TensorPrimitives.Subtract(trialGrad, grad, yy);
            double sy = TensorPrimitives.Dot<double>(s, yy);
            if (sy > 1e-12 * TensorPrimitives.Norm<double>(s) * TensorPrimitives.Norm<double>(yy))
            {
                if (sHist.Count == options.Memory) { sHist.RemoveAt(0); yHist.RemoveAt(0); rhoHist.RemoveAt(0); }
                sHist.Add(s); yHist.Add(yy); rhoHist.Add(1 / sy);
            }
            trial.CopyTo(theta, 0);
            trialGrad.CopyTo(grad, 0);
            double previous = f;
            f = fNew;
            converged = Math.Abs(TensorPrimitives.MaxMagnitude<double>(grad)) <= options.GradientTolerance
                || Math.Abs(previous - f) <= 1e-14 * Math.Max(1, Math.Abs(f));
        }
        var w = new Matrix(c, d);
        Array.Copy(theta, w.Data, c * d);
        return new LogisticProbe(w, theta[(c * d)..], mean, scale, iteration, converged, f);
    }

    /// <summary>Class probabilities per row (n × C).</summary>
    public Matrix Probabilities(Matrix x)
    {
        if (x.Cols != Weights.Cols) throw new NativeLayersException($"the probe takes width {Weights.Cols}, got {x.Cols}.");
        var logits = Logits(Transform(x, FeatureMean, FeatureScale), Weights.Data, Bias, Classes);
        for (int r = 0; r < logits.Rows; r++) SoftmaxInPlace(logits.Row(r));
        return logits;
    }

    public int[] Predict(Matrix x)
    {
        var p = Probabilities(x);
        var result = new int[p.Rows];
        for (int r = 0; r < p.Rows; r++) result[r] = TensorPrimitives.IndexOfMax<double>(p.Row(r));
        return result;
    }

    public double Accuracy(Matrix x, IReadOnlyList<int> labels)
    {
        var predicted = Predict(x);
        if (predicted.Length != labels.Count) throw new NativeLayersException($"{predicted.Length} rows but {labels.Count} labels.");
        if (predicted.Length == 0) return double.NaN;
        int right = 0;
        for (int i = 0; i < predicted.Length; i++) if (predicted[i] == labels[i]) right++;
        return (double)right / predicted.Length;
    }

    /// <summary>Mean cross-entropy (nats) of the true labels, no penalty.</summary>
    public double CrossEntropy(Matrix x, IReadOnlyList<int> labels)
    {
        var p = Probabilities(x);
        double s = 0;
        for (int i = 0; i < p.Rows; i++) s -= Math.Log(Math.Max(p[i, labels[i]], double.Epsilon));
        return s / p.Rows;
    }

    /// <summary>Objective and gradient at θ.</summary>
    private static double Evaluate(Matrix z, int[] y, int c, double l2, double[] theta, double[] grad)
    {
        int n = z.Rows, d = z.Cols;
        var w = theta.AsSpan(0, c * d);
        var b = theta.AsSpan(c * d, c);
        var logits = Logits(z, theta, b.ToArray(), c);
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            var row = logits.Row(i);
            double max = TensorPrimitives.Max<double>(row);
            double sum = 0;
            for (int k = 0; k < c; k++) sum += Math.Exp(row[k] - max);
            double lse = max + Math.Log(sum);
            loss += lse - row[y[i]];
            for (int k = 0; k < c; k++) row[k] = Math.Exp(row[k] - lse); // p_ik
            row[y[i]] -= 1;                                                 // p − e_y
        }
        Array.Clear(grad);
        // ∂/∂W = (1/n) (P − E)ᵀ Z + λ W ; ∂/∂b = (1/n) Σ (P − E).
        var gw = grad.AsSpan(0, c * d);
        var gb = grad.AsSpan(c * d, c);
        for (int i = 0; i < n; i++)
        {
            var zi = z.Row(i);
            for (int k = 0; k < c; k++)
            {
                double e = logits.Data[i * c + k];
                if (e == 0) continue;
                var gk = gw.Slice(k * d, d);
                TensorPrimitives.MultiplyAdd(zi, e, gk, gk);
                gb[k] += e;
            }
        }
        TensorPrimitives.Multiply(grad, 1.0 / n, grad);
        TensorPrimitives.MultiplyAdd(w, l2, gw, gw);
        return loss / n + 0.5 * l2 * TensorPrimitives.SumOfSquares<double>(w);
    }

    private static Matrix Logits(Matrix z, double[] weights, double[] bias, int c)
    {
        int n = z.Rows, d = z.Cols;
        var logits = new Matrix(n, c);
        for (int i = 0; i < n; i++)
        {
            var zi = z.Row(i);
            for (int k = 0; k < c; k++)
                logits.Data[i * c + k] = TensorPrimitives.Dot<double>(zi, weights.AsSpan(k * d, d)) + bias[k];
        }
        return logits;
    }

    private static void SoftmaxInPlace(Span<double> row)
    {
        double max = TensorPrimitives.Max<double>(row);
        double sum = 0;
        for (int k = 0; k < row.Length; k++) { row[k] = Math.Exp(row[k] - max); sum += row[k]; }
        for (int k = 0; k < row.Length; k++) row[k] /= sum;
    }

    private static (double[] Mean, double[] Scale) Moments(Matrix x)
    {
        var mean = x.ColumnMeans();
        var scale = new double[x.Cols];
        for (int r = 0; r < x.Rows; r++)
        {
            var row = x.Row(r);
            for (int k = 0; k < x.Cols; k++) { double e = row[k] - mean[k]; scale[k] += e * e; }
        }
        for (int k = 0; k < x.Cols; k++)
        {
            double sd = Math.Sqrt(scale[k] / x.Rows);
            scale[k] = sd > 1e-12 * Math.Max(1, Math.Abs(mean[k])) ? sd : 1;
        }
        return (mean, scale);
    }

    private static Matrix Transform(Matrix x, double[] mean, double[] scale)
    {
        var z = new Matrix(x.Rows, x.Cols);
        for (int r = 0; r < x.Rows; r++)
        {
            var zr = z.Row(r);
            TensorPrimitives.Subtract(x.Row(r), mean, zr);
            TensorPrimitives.Divide(zr, scale, zr);
        }
        return z;
    }
}
