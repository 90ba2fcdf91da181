using System.Numerics.Tensors;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Linalg;

/// <summary>
/// A thin SVD <c>A = U diag(S) Vᵀ</c> truncated to the numerically nonzero singular values, computed from the
/// eigendecomposition of the smaller Gram matrix (<c>A Aᵀ</c> when N ≤ D, else <c>Aᵀ A</c>), as §1 and §12 prescribe.
/// Accurate for the leading components (PCA); singular values below √(1e-12)·σmax are dropped by the §0.2 clamp.
/// </summary>
public sealed class ThinSvd
{
    /// <summary>Descending, all &gt; 0.</summary>
    public double[] SingularValues { get; }
    /// <summary>N×r, orthonormal columns.</summary>
    public Matrix U { get; }
    /// <summary>D×r, orthonormal columns.</summary>
    public Matrix V { get; }
    public int Rank => SingularValues.Length;

    private ThinSvd(double[] s, Matrix u, Matrix v)
    {
        SingularValues = s; U = u; V = v;
    }

    /// <summary>Right singular vector j (a principal axis when A is centred) as a new array.</summary>
    public double[] RightVector(int j) => V.Column(j);

    /// <summary>Left singular vector j as a new array.</summary>
    public double[] LeftVector(int j) => U.Column(j);

    /// <summary>Computes the thin SVD of the N×D matrix <paramref name="a"/>, keeping at most <paramref name="maxComponents"/>.</summary>
    public static ThinSvd Compute(Matrix a, int? maxComponents = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (!a.IsFinite()) throw new NativeLayersException("cannot take the SVD of a matrix that contains NaN or infinity.");
        if (maxComponents is < 0) throw new ArgumentOutOfRangeException(nameof(maxComponents));
        int n = a.Rows, d = a.Cols;
        bool rowSide = n <= d;
        var gram = rowSide ? a.RowGram() : a.ColumnGram();
        var eig = SymmetricEigen.Decompose(gram);
        var lambda = eig.ClampedValues();
        int r = 0;
        while (r < lambda.Length && lambda[r] > 0) r++;
        if (maxComponents is int cap) r = Math.Min(r, cap);

        var s = new double[r];
        var u = new Matrix(n, r);
        var v = new Matrix(d, r);
        var small = new double[rowSide ? n : d];
        for (int j = 0; j < r; j++)
        {
            s[j] = Math.Sqrt(lambda[j]);
            for (int i = 0; i < small.Length; i++) small[i] = eig.Vectors!.Data[i * small.Length + j];
            // The other side: Aᵀu / σ (or A v / σ), renormalised to absorb round-off.
            double[] other = rowSide ? TransposeTimes(a, small) : a.Multiply(small);
            double norm = TensorPrimitives.Norm<double>(other);
            if (norm > 0) TensorPrimitives.Multiply(other, 1 / norm, other);
            var (left, right) = rowSide ? (small, other) : (other, small);
            for (int i = 0; i < n; i++) u.Data[i * r + j] = left[i];
            for (int i = 0; i < d; i++) v.Data[i * r + j] = right[i];
        }
        return new ThinSvd(s, u, v);
    }

    /// <summary>Aᵀ x for an N-vector x.</summary>
    internal static double[] TransposeTimes(Matrix a, ReadOnlySpan<double> x)
    {
        var y = new double[a.Cols];
        for (int i = 0; i < a.Rows; i++)
            if (x[i] != 0) TensorPrimitives.MultiplyAdd(a.Row(i), x[i], y, y);
        return y;
    }
}
