using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Similarity;

/// <summary>
/// Householder QR with column pivoting, <c>A P = Q R</c>, truncated at the numerical rank: columns whose
/// |R_kk| &lt; 1e-10·|R_00| are dropped (§11, step 4). Unlike the Gram-based <see cref="ThinSvd"/> it never squares the
/// condition number, so the orthonormal basis of a column space with tiny directions stays accurate — which is what
/// canonical correlations need.
/// </summary>
public sealed class PivotedQr
{
    public const double DefaultRankTolerance = 1e-10;

    /// <summary>Qᵀ as rank×n rows: row k is the k-th orthonormal basis vector of A's column space.</summary>
    public Matrix QTransposed { get; }
    /// <summary>|R_kk| for k &lt; rank, non-increasing.</summary>
    public double[] Diagonal { get; }
    /// <summary>Column k of A P is column <c>Permutation[k]</c> of A.</summary>
    public int[] Permutation { get; }
    public int Rank => Diagonal.Length;

    private PivotedQr(Matrix qt, double[] diagonal, int[] permutation)
    {
        QTransposed = qt; Diagonal = diagonal; Permutation = permutation;
    }

    /// <summary>Factors the n×p matrix <paramref name="a"/> (not modified).</summary>
    public static PivotedQr Compute(Matrix a, double rankTolerance = DefaultRankTolerance)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (!a.IsFinite()) throw new NativeLayersException("cannot QR-factor a matrix that contains NaN or infinity.");
        int n = a.Rows, p = a.Cols;
        var cols = DenseKernels.Transpose(a).Data; // column j of A is cols[j*n .. j*n+n)
        var perm = Enumerable.Range(0, p).ToArray();
        int steps = Math.Min(n, p);
        var vs = new List<double[]>();
        var betas = new List<double>();
        var diag = new List<double>();
        var norms = new double[p];
        double first = 0;
        for (int k = 0; k < steps; k++)
        {
            // Pivot: the remaining column with the largest norm below row k (recomputed, not downdated).
            int best = k;
            for (int j = k; j < p; j++)
            {
                norms[j] = TensorPrimitives.SumOfSquares<double>(cols.AsSpan(j * n + k, n - k));
                if (norms[j] > norms[best]) best = j;
            }
            if (best != k)
            {
                var tmp = cols.AsSpan(k * n, n).ToArray();
                cols.AsSpan(best * n, n).CopyTo(cols.AsSpan(k * n, n));
                tmp.CopyTo(cols.AsSpan(best * n, n));
                (perm[k], perm[best]) = (perm[best], perm[k]);
                (norms[k], norms[best]) = (norms[best], norms[k]);
            }
            double norm = Math.Sqrt(norms[k]);
            if (k == 0) first = norm;
            if (norm == 0 || norm < rankTolerance * first) break;

            var x = cols.AsSpan(k * n + k, n - k);
            double alpha = x[0] > 0 ? -norm : norm;
            var v = x.ToArray();
            v[0] -= alpha;
            double vv = TensorPrimitives.SumOfSquares<double>(v);
            double beta = vv == 0 ? 0 : 2 / vv;
            // Apply H = I − β v vᵀ to the remaining columns.
            for (int j = k + 1; j < p; j++)
            {
                var c = cols.AsSpan(j * n + k, n - k);
                double s = beta * TensorPrimitives.Dot<double>(v, c);
                if (s != 0) TensorPrimitives.MultiplyAdd(v, -s, c, c);
            }
            x.Clear();
            x[0] = alpha;
            vs.Add(v); betas.Add(beta); diag.Add(Math.Abs(alpha));
        }

        int r = diag.Count;
        // Q = H_0 … H_{r−1} [I_r; 0], by backward accumulation on each of the r columns (stored as rows of Qᵀ).
        var qt = new Matrix(r, n);
        Parallel.For(0, r, i =>
        {
            var q = qt.Data.AsSpan(i * n, n);
            q[i] = 1;
            for (int k = r - 1; k >= 0; k--)
            {
                var sub = q[k..];
                double s = betas[k] * TensorPrimitives.Dot<double>(vs[k], sub);
                if (s != 0) TensorPrimitives.MultiplyAdd(vs[k], -s, sub, sub);
            }
        });
        return new PivotedQr(qt, [.. diag], perm);
    }
}
