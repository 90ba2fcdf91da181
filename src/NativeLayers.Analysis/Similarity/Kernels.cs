using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Similarity;

/// <summary>Which entries the RBF bandwidth's median is taken over (§10).</summary>
public enum RbfMedian
{
    /// <summary>All n² squared distances, the zero diagonal included (the reference implementation; the default).</summary>
    AllEntries,
    /// <summary>Only the n(n−1) off-diagonal pairs.</summary>
    OffDiagonal,
}

/// <summary>RBF kernel settings of §10: σ² = thr² · median(‖x_a − x_b‖²).</summary>
public sealed record RbfOptions
{
    /// <summary><c>thr</c>: the bandwidth as a fraction of the median distance (1.0 by default).</summary>
    public double Threshold { get; init; } = 1.0;
    public RbfMedian Median { get; init; } = RbfMedian.AllEntries;
}

/// <summary>
/// Kernel (Gram) matrices and their centrings for CKA (§10), in float64: linear <c>X Xᵀ</c>, RBF with the median
/// heuristic, the biased double centring <c>H K H</c> and the U-statistic centring of the unbiased HSIC.
/// </summary>
public static class Kernels
{
    /// <summary>The linear kernel of the column-centred X, <c>X_c X_cᵀ</c> (already double-centred).</summary>
    public static Matrix CenteredLinear(Matrix x) => DenseKernels.Gram(RequireData(x).CenterRows());

    /// <summary>The linear kernel <c>X Xᵀ</c> of X as given.</summary>
    public static Matrix Linear(Matrix x) => DenseKernels.Gram(RequireData(x));

    /// <summary>
    /// The RBF kernel <c>exp(−‖x_i − x_j‖² / (2σ²))</c>, σ² = thr²·median of the squared distances (§10).
    /// Returns the kernel and σ². A zero median (all rows equal) is an error.
    /// </summary>
    public static (Matrix Kernel, double Sigma2) Rbf(Matrix x, RbfOptions? options = null)
    {
        options ??= new RbfOptions();
        if (!(options.Threshold > 0)) throw new NativeLayersException($"the RBF threshold must be > 0, got {options.Threshold}.");
        var d2 = SquaredDistances(x);
        double median = MedianSquaredDistance(d2, options.Median);
        if (!(median > 0)) throw new NativeLayersException("the RBF bandwidth is zero: the median squared distance between rows is 0.");
        double sigma2 = options.Threshold * options.Threshold * median;
        double scale = -1 / (2 * sigma2);
        var k = d2.Data;
        for (int i = 0; i < k.Length; i++) k[i] = Math.Exp(k[i] * scale);
        return (d2, sigma2);
    }

    /// <summary>‖x_i − x_j‖² for all pairs (from the Gram of the centred rows; exactly 0 on the diagonal, never negative).</summary>
    public static Matrix SquaredDistances(Matrix x)
    {
        var g = CenteredLinear(x);
        int n = g.Rows;
        var diag = new double[n];
        for (int i = 0; i < n; i++) diag[i] = g.Data[i * n + i];
        var d = g.Data;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                d[i * n + j] = i == j ? 0 : Math.Max(0, diag[i] + diag[j] - 2 * d[i * n + j]);
        return g;
    }

    /// <summary>The median of the squared-distance matrix over all n² entries or over the off-diagonal pairs (numpy's median: the mean of the two middle values for an even count).</summary>
    public static double MedianSquaredDistance(Matrix d2, RbfMedian mode)
    {
        int n = d2.Rows;
        if (n < 2) throw new NativeLayersException("the RBF median needs at least 2 rows.");
        long m = (long)n * (n - 1) / 2;
        var upper = new double[m];
        long t = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) upper[t++] = d2.Data[i * n + j];
        Array.Sort(upper);
        if (mode == RbfMedian.OffDiagonal)
            return m % 2 == 1 ? upper[m / 2] : 0.5 * (upper[m / 2 - 1] + upper[m / 2]);
        // All n² entries: n zeros (the diagonal, all ≤ every distance) then every off-diagonal value twice.
        long total = (long)n * n;
        double At(long k) => k < n ? 0 : upper[(k - n) / 2];
        return total % 2 == 1 ? At(total / 2) : 0.5 * (At(total / 2 - 1) + At(total / 2));
    }

    /// <summary><c>H K H</c> in place (H = I − 11ᵀ/n): subtract row and column means, add the grand mean.</summary>
    public static Matrix DoubleCenterInPlace(Matrix k)
    {
        Symmetric.SymmetrizeInPlace(k);
        int n = k.Rows;
        var means = new double[n];
        double grand = 0;
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < n; j++) s += k.Data[i * n + j];
            means[i] = s / n;
            grand += s;
        }
        grand /= (double)n * n;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                k.Data[i * n + j] += grand - means[i] - means[j];
        return k;
    }

    /// <summary>
    /// The U-statistic centring of Song et al. 2012 in place (n ≥ 4): zero the diagonal, then for i ≠ j
    /// <c>K̃_ij − r_i/(n−2) − r_j/(n−2) + S/((n−1)(n−2))</c> with row sums r and total S of K̃; the diagonal stays 0.
    /// Then <c>HSIC_u(K, L) = ⟨U(K), U(L)⟩_F / (n(n−3))</c>.
    /// </summary>
    public static Matrix UCenterInPlace(Matrix k)
    {
        Symmetric.SymmetrizeInPlace(k);
        int n = k.Rows;
        if (n < 4) throw new NativeLayersException($"the unbiased HSIC needs n ≥ 4 rows, got {n}.");
        var rows = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            k.Data[i * n + i] = 0;
            double s = 0;
            for (int j = 0; j < n; j++) s += k.Data[i * n + j];
            rows[i] = s;
            total += s;
        }
        double a = 1.0 / (n - 2), c = total / ((double)(n - 1) * (n - 2));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                k.Data[i * n + j] = i == j ? 0 : k.Data[i * n + j] - a * (rows[i] + rows[j]) + c;
        return k;
    }

    internal static Matrix RequireData(Matrix x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rows == 0 || x.Cols == 0) throw new NativeLayersException($"empty activations ({x.Rows}×{x.Cols}).");
        if (!x.IsFinite()) throw new NativeLayersException("the activations contain NaN or infinity.");
        return x;
    }

    internal static void RequirePaired(Matrix x, Matrix y)
    {
        RequireData(x);
        RequireData(y);
        if (x.Rows != y.Rows)
            throw new NativeLayersException($"the two representations must have one row per shared input, got {x.Rows} and {y.Rows} rows.");
    }
}
