using NativeLayers.Loading;

namespace NativeLayers.Analysis.Linalg;

/// <summary>Symmetrisation (§0.2): <c>K ← (K + Kᵀ)/2</c>, applied before every eigendecomposition.</summary>
public static class Symmetric
{
    /// <summary>Symmetrises a square matrix in place and returns it.</summary>
    public static Matrix SymmetrizeInPlace(Matrix k)
    {
        RequireSquare(k, "symmetrise");
        int n = k.Rows;
        var a = k.Data;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double m = 0.5 * (a[i * n + j] + a[j * n + i]);
                a[i * n + j] = m;
                a[j * n + i] = m;
            }
        return k;
    }

    /// <summary>A symmetrised copy; the input is left untouched.</summary>
    public static Matrix Symmetrized(Matrix k) => SymmetrizeInPlace(k.Clone());

    internal static void RequireSquare(Matrix k, string what)
    {
        ArgumentNullException.ThrowIfNull(k);
        if (k.Rows != k.Cols)
            throw new NativeLayersException($"cannot {what} a {k.Rows}×{k.Cols} matrix: it is not square.");
    }
}
