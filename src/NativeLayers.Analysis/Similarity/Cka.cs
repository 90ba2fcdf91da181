using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Similarity;

/// <summary>HSIC estimators on kernel matrices (§10).</summary>
public static class Hsic
{
    /// <summary>Biased HSIC: <c>tr(K H L H) / (n−1)²</c>.</summary>
    public static double Biased(Matrix k, Matrix l)
    {
        RequireSameSquare(k, l);
        int n = k.Rows;
        var kc = Kernels.DoubleCenterInPlace(k.Clone());
        var lc = Kernels.DoubleCenterInPlace(l.Clone());
        // tr(K H L H) = tr(HKH · HLH) = ⟨HKH, HLH⟩_F for symmetric K, L.
        return DenseKernels.FrobeniusDot(kc.Data, lc.Data) / ((double)(n - 1) * (n - 1));
    }

    /// <summary>
    /// Unbiased HSIC (Song et al. 2012), n ≥ 4, straight from the formula of §10:
    /// <c>[tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − (2/(n−2)) 1ᵀK̃L̃1] / (n(n−3))</c>, K̃, L̃ with zero diagonals.
    /// </summary>
    public static double Unbiased(Matrix k, Matrix l)
    {
        RequireSameSquare(k, l);
        int n = k.Rows;
        if (n < 4) throw new NativeLayersException($"the unbiased HSIC needs n ≥ 4 rows, got {n}.");
        var kt = Symmetric.Symmetrized(k);
        var lt = Symmetric.Symmetrized(l);
        for (int i = 0; i < n; i++) { kt.Data[i * n + i] = 0; lt.Data[i * n + i] = 0; }
        double trace = DenseKernels.FrobeniusDot(kt.Data, lt.Data); // tr(K̃ L̃) for symmetric matrices
        var rk = new double[n];
        var rl = new double[n];
        for (int i = 0; i < n; i++)
        {
            rk[i] = TensorPrimitives.Sum<double>(kt.Row(i));
            rl[i] = TensorPrimitives.Sum<double>(lt.Row(i));
        }
        double sk = TensorPrimitives.Sum<double>(rk), sl = TensorPrimitives.Sum<double>(rl);
        double cross = TensorPrimitives.Dot<double>(rk, rl); // 1ᵀ K̃ L̃ 1
        return (trace + sk * sl / ((double)(n - 1) * (n - 2)) - 2.0 / (n - 2) * cross) / ((double)n * (n - 3));
    }

    private static void RequireSameSquare(Matrix k, Matrix l)
    {
        Symmetric.RequireSquare(k, "take the HSIC of");
        Symmetric.RequireSquare(l, "take the HSIC of");
        if (k.Rows != l.Rows) throw new NativeLayersException($"the kernels are {k.Rows}×{k.Rows} and {l.Rows}×{l.Rows}; they must match.");
    }
}

/// <summary>
/// Centred kernel alignment (§10): linear (feature or Gram form), RBF with the median bandwidth, and the debiased
/// variants through the unbiased HSIC. Inputs are X (n×p) and Y (n×q) with row i of each from the same input; widths
/// may differ. Everything is float64. Debiased values can be slightly negative and are NaN when either
/// self-HSIC is ≤ 0.
/// </summary>
public static class Cka
{
    /// <summary>Linear CKA, choosing the feature form when p, q &lt; n and the Gram form otherwise.</summary>
    public static double Linear(Matrix x, Matrix y)
    {
        Kernels.RequirePaired(x, y);
        return x.Cols < x.Rows && y.Cols < y.Rows ? LinearFeatureForm(x, y) : LinearGramForm(x, y);
    }

    /// <summary><c>‖Y_cᵀX_c‖_F² / (‖X_cᵀX_c‖_F · ‖Y_cᵀY_c‖_F)</c>: never builds n×n matrices.</summary>
    public static double LinearFeatureForm(Matrix x, Matrix y)
    {
        Kernels.RequirePaired(x, y);
        var xt = DenseKernels.Transpose(x.CenterRows());
        var yt = DenseKernels.Transpose(y.CenterRows());
        double cross = SumOfSquares(DenseKernels.TimesTranspose(xt, yt));
        double xx = Math.Sqrt(SumOfSquares(DenseKernels.Gram(xt)));
        double yy = Math.Sqrt(SumOfSquares(DenseKernels.Gram(yt)));
        return Ratio(cross, xx, yy);
    }

    /// <summary>The kernel form with <c>K = XXᵀ</c>, <c>L = YYᵀ</c> and the biased HSIC.</summary>
    public static double LinearGramForm(Matrix x, Matrix y)
    {
        Kernels.RequirePaired(x, y);
        return FromCenteredKernels(Kernels.CenteredLinear(x), Kernels.CenteredLinear(y));
    }

    /// <summary>RBF CKA (Kornblith et al. 2019) with σ² = thr²·median squared distance, per representation.</summary>
    public static double Rbf(Matrix x, Matrix y, RbfOptions? options = null)
    {
        Kernels.RequirePaired(x, y);
        return FromKernels(Kernels.Rbf(x, options).Kernel, Kernels.Rbf(y, options).Kernel);
    }

    /// <summary>Debiased linear CKA: the unbiased HSIC in the CKA ratio.</summary>
    public static double DebiasedLinear(Matrix x, Matrix y)
    {
        Kernels.RequirePaired(x, y);
        return DebiasedFromKernels(Kernels.CenteredLinear(x), Kernels.CenteredLinear(y));
    }

    /// <summary>Debiased RBF CKA.</summary>
    public static double DebiasedRbf(Matrix x, Matrix y, RbfOptions? options = null)
    {
        Kernels.RequirePaired(x, y);
        return DebiasedFromKernels(Kernels.Rbf(x, options).Kernel, Kernels.Rbf(y, options).Kernel);
    }

    /// <summary>CKA of two kernel matrices with the biased HSIC (the inputs are not modified).</summary>
    public static double FromKernels(Matrix k, Matrix l) =>
        FromCenteredKernels(Kernels.DoubleCenterInPlace(k.Clone()), Kernels.DoubleCenterInPlace(l.Clone()));

    /// <summary>Debiased CKA of two kernel matrices (the inputs are not modified); NaN when a self-HSIC is ≤ 0.</summary>
    public static double DebiasedFromKernels(Matrix k, Matrix l)
    {
        var uk = Kernels.UCenterInPlace(k.Clone());
        var ul = Kernels.UCenterInPlace(l.Clone());
        double kk = DenseKernels.FrobeniusDot(uk.Data, uk.Data), ll = DenseKernels.FrobeniusDot(ul.Data, ul.Data);
        if (!(kk > 0) || !(ll > 0)) return double.NaN;
        return DenseKernels.FrobeniusDot(uk.Data, ul.Data) / Math.Sqrt(kk * ll);
    }

    private static double FromCenteredKernels(Matrix kc, Matrix lc) =>
        Ratio(DenseKernels.FrobeniusDot(kc.Data, lc.Data),
            Math.Sqrt(DenseKernels.FrobeniusDot(kc.Data, kc.Data)), Math.Sqrt(DenseKernels.FrobeniusDot(lc.Data, lc.Data)));

    internal static double Ratio(double cross, double xx, double yy)
    {
        if (!(xx > 0) || !(yy > 0))
            throw new NativeLayersException("CKA is undefined for a constant representation (every row equal after centring).");
        return cross / (xx * yy);
    }

    internal static double SumOfSquares(Matrix m) => TensorPrimitives.SumOfSquares<double>(m.Data);
}
