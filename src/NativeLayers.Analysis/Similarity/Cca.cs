using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Similarity;

/// <summary>Canonical correlations ρ_1 ≥ … ≥ ρ_m (clamped to [0, 1]) with the ranks used and any sample-size warning.</summary>
public sealed record CcaResult(double[] Correlations, int RankX, int RankY, IReadOnlyList<string> Warnings)
{
    public double Mean => Correlations.Length == 0 ? double.NaN : Correlations.Average();
}

/// <summary>SVCCA (§11): the kept SVD dimensions, the cumulative explained variances and the CCA of the reduced matrices.</summary>
public sealed record SvccaResult(double Value, double[] Correlations, int KeptX, int KeptY,
    double[] CumulativeVarianceX, double[] CumulativeVarianceY, IReadOnlyList<string> Warnings);

/// <summary>PWCCA (§11): <c>Σ w_i ρ_i</c> with the projection weights w of X's canonical variates.</summary>
public sealed record PwccaResult(double Value, double[] Correlations, double[] Weights, IReadOnlyList<string> Warnings);

/// <summary>
/// CCA-based similarities of §11 (Raghu et al. 2017; Morcos et al. 2018): canonical correlations as the singular
/// values of <c>Q_xᵀQ_y</c> from column-pivoted QR bases (rank-deficient columns dropped), SVCCA after a per-side SVD
/// truncation to variance fraction v, and PWCCA weighted by how much of X each canonical variate accounts for.
/// Requires n &gt; p + q (of the matrices actually correlated); warns when n &lt; 10·(p + q).
/// </summary>
public static class Cca
{
    public const double DefaultVarianceThreshold = 0.99;

    /// <summary>Plain CCA of the column-centred X and Y.</summary>
    public static CcaResult CanonicalCorrelations(Matrix x, Matrix y)
    {
        var px = Prepare(x, computeWeights: false);
        var py = Prepare(y, computeWeights: false);
        var warnings = SampleSizeWarnings(x.Rows, x.Cols, y.Cols);
        var (rho, _) = Correlate(px, py, wantVectors: false);
        return new CcaResult(rho, px.Rank, py.Rank, warnings);
    }

    /// <summary>SVCCA: keep the smallest k per side reaching cumulative variance ≥ v, then the mean canonical correlation.</summary>
    public static SvccaResult Svcca(Matrix x, Matrix y, double varianceThreshold = DefaultVarianceThreshold)
    {
        Kernels.RequirePaired(x, y);
        var (rx, cx) = SvdReduce(x, varianceThreshold);
        var (ry, cy) = SvdReduce(y, varianceThreshold);
        var warnings = SampleSizeWarnings(x.Rows, rx.Cols, ry.Cols);
        var (rho, _) = Correlate(Prepare(rx, false), Prepare(ry, false), wantVectors: false);
        return new SvccaResult(rho.Length == 0 ? double.NaN : rho.Average(), rho, rx.Cols, ry.Cols, cx, cy, warnings);
    }

    /// <summary>PWCCA(X→Y) on the unreduced X and Y; asymmetric (swap the arguments for Y→X).</summary>
    public static PwccaResult Pwcca(Matrix x, Matrix y)
    {
        Kernels.RequirePaired(x, y);
        var warnings = SampleSizeWarnings(x.Rows, x.Cols, y.Cols);
        var px = Prepare(x, computeWeights: true);
        var py = Prepare(y, computeWeights: false);
        var (value, rho, w) = Pwcca(px, py);
        return new PwccaResult(value, rho, w, warnings);
    }

    /// <summary>The mean of PWCCA(X→Y) and PWCCA(Y→X).</summary>
    public static double PwccaSymmetric(Matrix x, Matrix y) => 0.5 * (Pwcca(x, y).Value + Pwcca(y, x).Value);

    // ---- building blocks shared with the layer×layer matrices ----

    /// <summary>One side of a CCA: Qᵀ of the centred matrix and, for PWCCA weights, <c>Qᵀ X_c</c> (rank×p).</summary>
    internal sealed record Side(Matrix QTransposed, Matrix? QtX, int Rows, int Cols)
    {
        public int Rank => QTransposed.Rows;
    }

    internal static Side Prepare(Matrix x, bool computeWeights)
    {
        Kernels.RequireData(x);
        var xc = x.CenterRows();
        var qr = PivotedQr.Compute(xc);
        Matrix? qtx = computeWeights ? DenseKernels.TimesTranspose(qr.QTransposed, DenseKernels.Transpose(xc)) : null;
        return new Side(qr.QTransposed, qtx, x.Rows, x.Cols);
    }

    /// <summary>Canonical correlations (descending, in [0, 1]) and, when asked, X's canonical directions U (rank_x × m) in Q_x coordinates.</summary>
    internal static (double[] Rho, Matrix? U) Correlate(Side x, Side y, bool wantVectors)
    {
        if (x.Rows != y.Rows) throw new NativeLayersException($"CCA pairs rows: got {x.Rows} and {y.Rows}.");
        int m = Math.Min(x.Rank, y.Rank);
        if (m == 0) return ([], wantVectors ? new Matrix(x.Rank, 0) : null);
        var mxy = DenseKernels.TimesTranspose(x.QTransposed, y.QTransposed); // Q_xᵀ Q_y, rank_x × rank_y
        // Left singular vectors and values of M from the symmetric eigenproblem of M Mᵀ (rank_x × rank_x).
        var mmt = DenseKernels.Gram(mxy);
        var eig = SymmetricEigen.Decompose(mmt, computeVectors: wantVectors);
        var rho = new double[m];
        for (int i = 0; i < m; i++) rho[i] = Math.Clamp(Math.Sqrt(Math.Max(eig.Values[i], 0)), 0, 1);
        if (!wantVectors) return (rho, null);
        var u = new Matrix(x.Rank, m);
        for (int r = 0; r < x.Rank; r++)
            for (int i = 0; i < m; i++) u.Data[r * m + i] = eig.Vectors!.Data[r * x.Rank + i];
        return (rho, u);
    }

    /// <summary>PWCCA from prepared sides; x must carry <see cref="Side.QtX"/>.</summary>
    internal static (double Value, double[] Rho, double[] Weights) Pwcca(Side x, Side y)
    {
        var (rho, u) = Correlate(x, y, wantVectors: true);
        int m = rho.Length, r = x.Rank, p = x.Cols;
        if (m == 0) return (double.NaN, rho, []);
        var qtx = x.QtX ?? throw new InvalidOperationException("the X side was prepared without PWCCA weights.");
        // a_i = Σ_j |⟨h_i, x_cj⟩| with h_i = Q_x u_i, i.e. Σ_j |(u_iᵀ Q_xᵀ X_c)_j|.
        var a = new double[m];
        var proj = new double[p];
        for (int i = 0; i < m; i++)
        {
            Array.Clear(proj);
            for (int k = 0; k < r; k++)
            {
                double uk = u!.Data[k * m + i];
                if (uk != 0) TensorPrimitives.MultiplyAdd(qtx.Row(k), uk, proj, proj);
            }
            a[i] = TensorPrimitives.SumOfMagnitudes<double>(proj);
        }
        double total = a.Sum();
        var w = a.Select(v => v / total).ToArray();
        double value = 0;
        for (int i = 0; i < m; i++) value += w[i] * rho[i];
        return (value, rho, w);
    }

    /// <summary>
    /// The SVCCA reduction of one side: centre, SVD, keep the smallest k with cumulative <c>Σ s_i² / Σ s²</c> ≥ v,
    /// return <c>U_k S_k</c> (= X_c V_k, n×k) and the cumulative variance curve.
    /// </summary>
    public static (Matrix Reduced, double[] CumulativeVariance) SvdReduce(Matrix x, double varianceThreshold)
    {
        Kernels.RequireData(x);
        if (!(varianceThreshold > 0 && varianceThreshold <= 1))
            throw new NativeLayersException($"the SVCCA variance threshold must be in (0, 1], got {varianceThreshold}.");
        var xc = x.CenterRows();
        double total = TensorPrimitives.SumOfSquares<double>(xc.Data);
        if (!(total > 0)) throw new NativeLayersException("SVCCA: the representation is constant (zero variance after centring).");
        var svd = ThinSvd.Compute(xc);
        var cum = new double[svd.Rank];
        double acc = 0;
        int keep = svd.Rank;
        for (int i = 0; i < svd.Rank; i++)
        {
            acc += svd.SingularValues[i] * svd.SingularValues[i];
            cum[i] = acc / total;
            if (keep == svd.Rank && cum[i] >= varianceThreshold - 1e-12) keep = i + 1;
        }
        var reduced = new Matrix(x.Rows, keep);
        for (int r = 0; r < x.Rows; r++)
            for (int k = 0; k < keep; k++) reduced.Data[r * keep + k] = svd.U.Data[r * svd.Rank + k] * svd.SingularValues[k];
        return (reduced, cum);
    }

    /// <summary>§11: n must exceed p + q; fewer than 10·(p + q) rows gives a warning.</summary>
    internal static List<string> SampleSizeWarnings(int n, int p, int q)
    {
        if (n <= p + q)
            throw new NativeLayersException($"CCA needs more rows than the two widths together: n = {n} ≤ p + q = {p + q}; use more inputs (or SVCCA, which reduces the widths).");
        var warnings = new List<string>();
        if (n < 10 * (p + q)) warnings.Add($"n = {n} < 10·(p + q) = {10 * (p + q)}: canonical correlations are biased upwards at this sample size.");
        return warnings;
    }
}
