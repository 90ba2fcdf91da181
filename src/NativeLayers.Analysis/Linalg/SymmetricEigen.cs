using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Linalg;

/// <summary>
/// Symmetric eigensolver (§0.2): cyclic Jacobi for n ≤ <see cref="JacobiMaxSize"/>, Householder tridiagonalisation
/// followed by the implicit (Wilkinson-shifted) QL iteration above that. Inputs are symmetrised on a copy first; the
/// caller's matrix is never modified. Never use a general eigensolver on Gram or covariance matrices.
/// </summary>
public static class SymmetricEigen
{
    public const int JacobiMaxSize = 256;
    private const int MaxJacobiSweeps = 100;
    private const int MaxQlIterationsPerValue = 100;
    private const double MachineEpsilon = 2.220446049250313e-16;

    /// <summary>Decomposes a symmetric matrix, choosing the algorithm by size.</summary>
    public static EigenDecomposition Decompose(Matrix a, bool computeVectors = true) =>
        Prepare(a).Rows <= JacobiMaxSize ? Jacobi(a, computeVectors) : TridiagonalQL(a, computeVectors);

    /// <summary>Eigenvalues only, descending.</summary>
    public static double[] Eigenvalues(Matrix a) => Decompose(a, computeVectors: false).Values;

    /// <summary>Cyclic Jacobi rotations, at any size (intended for n ≤ 256).</summary>
    public static EigenDecomposition Jacobi(Matrix a, bool computeVectors = true)
    {
        Prepare(a);
        int n = a.Rows;
        var s = Symmetric.Symmetrized(a).Data;
        double[]? vt = computeVectors ? Matrix.Identity(n).Data : null; // row j = eigenvector j

        double frob2 = TensorPrimitives.SumOfSquares<double>(s);
        double tolerance = Math.Max(frob2 * 1e-32, double.Epsilon);
        for (int sweep = 0; sweep < MaxJacobiSweeps; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += s[p * n + q] * s[p * n + q];
            if (off <= tolerance) break;

            for (int p = 0; p < n - 1; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    double apq = s[p * n + q];
                    if (apq == 0) continue;
                    double app = s[p * n + p], aqq = s[q * n + q];
                    double g = 100 * Math.Abs(apq);
                    // After a few sweeps an element negligible against both diagonal entries is simply dropped.
                    if (sweep > 3 && Math.Abs(app) + g == Math.Abs(app) && Math.Abs(aqq) + g == Math.Abs(aqq))
                    {
                        s[p * n + q] = 0;
                        s[q * n + p] = 0;
                        continue;
                    }
                    double theta = (aqq - app) / (2 * apq);
                    double t = Math.Abs(theta) > 1e150
                        ? 0.5 / theta
                        : Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + double.Hypot(theta, 1));
                    double c = 1 / Math.Sqrt(t * t + 1);
                    double sn = t * c;

                    // Rotate rows p and q (contiguous), then mirror them into columns p and q.
                    Rotate(s.AsSpan(p * n, n), s.AsSpan(q * n, n), c, sn);
                    s[p * n + p] = app - t * apq;
                    s[q * n + q] = aqq + t * apq;
                    s[p * n + q] = 0;
                    s[q * n + p] = 0;
                    for (int k = 0; k < n; k++)
                    {
                        if (k == p || k == q) continue;
                        s[k * n + p] = s[p * n + k];
                        s[k * n + q] = s[q * n + k];
                    }
                    if (vt != null) Rotate(vt.AsSpan(p * n, n), vt.AsSpan(q * n, n), c, sn);
                }
            }
        }

        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = s[i * n + i];
        return Finish(values, vt, n);
    }

    /// <summary>Householder tridiagonalisation + implicit QL, at any size (intended for n &gt; 256).</summary>
    public static EigenDecomposition TridiagonalQL(Matrix a, bool computeVectors = true)
    {
        Prepare(a);
        int n = a.Rows;
        var s = Symmetric.Symmetrized(a).Data;
        var d = new double[n];
        var e = new double[n]; // e[i] couples d[i] and d[i+1]; e[n-1] = 0
        double[]? zt = computeVectors ? new double[n * n] : null; // row j = eigenvector j (transpose of Q·Z)

        Tridiagonalize(s, n, d, e, zt);
        ImplicitQL(d, e, zt, n);
        return Finish(d, zt, n);
    }

    /// <summary>
    /// Reduces the symmetric matrix <paramref name="s"/> (row-major, n×n, destroyed) to tridiagonal form T = Qᵀ S Q with
    /// Householder reflections. Writes T's diagonal to <paramref name="d"/> and super-diagonal to <paramref name="e"/>;
    /// when <paramref name="qt"/> is given it receives Qᵀ (row-major).
    /// </summary>
    private static void Tridiagonalize(double[] s, int n, double[] d, double[] e, double[]? qt)
    {
        var vs = new double[Math.Max(n - 2, 0)][];
        var betas = new double[Math.Max(n - 2, 0)];
        var p = new double[n];
        for (int k = 0; k < n - 2; k++)
        {
            int m = n - k - 1, o = k + 1; // the trailing block is rows/cols o..n-1
            var x = new double[m];
            for (int i = 0; i < m; i++) x[i] = s[(o + i) * n + k];
            double norm = TensorPrimitives.Norm<double>(x);
            if (norm == 0) { vs[k] = x; betas[k] = 0; continue; }
            double alpha = x[0] > 0 ? -norm : norm;
            x[0] -= alpha; // v = x − α e1, so (I − βvvᵀ) x = α e1
            double vv = TensorPrimitives.SumOfSquares<double>(x);
            if (vv == 0) { betas[k] = 0; vs[k] = x; continue; }
            double beta = 2 / vv;
            vs[k] = x; betas[k] = beta;

            // p = β S v over the trailing block; w = p − (β pᵀv / 2) v; S ← S − v wᵀ − w vᵀ.
            var pv = p.AsSpan(0, m);
            for (int i = 0; i < m; i++) pv[i] = beta * TensorPrimitives.Dot(s.AsSpan((o + i) * n + o, m), x);
            double kk = 0.5 * beta * TensorPrimitives.Dot(pv, x);
            TensorPrimitives.MultiplyAdd(x, -kk, pv, pv);
            for (int i = 0; i < m; i++)
            {
                var row = s.AsSpan((o + i) * n + o, m);
                TensorPrimitives.MultiplyAdd(pv, -x[i], row, row);
                TensorPrimitives.MultiplyAdd(x, -pv[i], row, row);
            }
            s[o * n + k] = alpha; s[k * n + o] = alpha;
            for (int i = 1; i < m; i++) { s[(o + i) * n + k] = 0; s[k * n + o + i] = 0; }
        }
        for (int i = 0; i < n; i++) d[i] = s[i * n + i];
        for (int i = 0; i < n - 1; i++) e[i] = s[i * n + i + 1];
        if (n > 0) e[n - 1] = 0;

        if (qt == null) return;
        // Q = H0 H1 … H(n−3), built as Q ← H_k Q for k descending (backward accumulation), then transposed.
        var q = Matrix.Identity(n).Data;
        var tmp = new double[n];
        for (int k = n - 3; k >= 0; k--)
        {
            double beta = betas[k];
            if (beta == 0) continue;
            var v = vs[k];
            int o = k + 1, m = n - o;
            // rows o..n−1 of Q change: Q_sub ← Q_sub − β v (vᵀ Q_sub); only columns ≥ o are non-trivial.
            var w = tmp.AsSpan(0, m);
            w.Clear();
            for (int i = 0; i < m; i++)
                TensorPrimitives.MultiplyAdd(q.AsSpan((o + i) * n + o, m), v[i], w, w);
            for (int i = 0; i < m; i++)
            {
                var row = q.AsSpan((o + i) * n + o, m);
                TensorPrimitives.MultiplyAdd(w, -beta * v[i], row, row);
            }
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                qt[j * n + i] = q[i * n + j];
    }

    /// <summary>
    /// Implicit QL with Wilkinson shifts on the tridiagonal (d, e). Eigenvalues end in <paramref name="d"/>; rotations
    /// are applied to the rows of <paramref name="zt"/> (which holds the transposed basis) when given.
    /// </summary>
    private static void ImplicitQL(double[] d, double[] e, double[]? zt, int n)
    {
        double norm = 0; // max row sum of |T|: a bound on its spectral norm
        for (int i = 0; i < n; i++)
            norm = Math.Max(norm, Math.Abs(d[i]) + Math.Abs(e[i]) + (i > 0 ? Math.Abs(e[i - 1]) : 0));
        for (int l = 0; l < n; l++)
        {
            int iterations = 0;
            while (true)
            {
                int m = l;
                for (; m < n - 1; m++)
                {
                    // Negligible against its neighbours, or against the whole matrix: the latter keeps the iteration
                    // from chasing round-off among eigenvalues at the noise floor (rank-deficient Grams).
                    double dd = Math.Abs(d[m]) + Math.Abs(d[m + 1]);
                    double em = Math.Abs(e[m]);
                    if (em <= MachineEpsilon * dd || em <= MachineEpsilon * norm) break;
                }
                if (m == l) break;
                if (++iterations > MaxQlIterationsPerValue)
                    throw new NativeLayersException($"the QL eigen-iteration did not converge for eigenvalue {l} of a {n}×{n} matrix.");

                double g = (d[l + 1] - d[l]) / (2 * e[l]);
                double r = double.Hypot(g, 1);
                g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
                double s = 1, c = 1, p = 0;
                bool deflated = false;
                for (int i = m - 1; i >= l; i--)
                {
                    double f = s * e[i], b = c * e[i];
                    r = double.Hypot(f, g);
                    e[i + 1] = r;
                    if (r == 0)
                    {
                        d[i + 1] -= p;
                        e[m] = 0;
                        deflated = true;
                        break;
                    }
                    s = f / r;
                    c = g / r;
                    g = d[i + 1] - p;
                    r = (d[i] - g) * s + 2 * c * b;
                    p = s * r;
                    d[i + 1] = g + p;
                    g = c * r - b;
                    if (zt != null) Rotate(zt.AsSpan(i * n, n), zt.AsSpan((i + 1) * n, n), c, s);
                }
                if (deflated) continue;
                d[l] -= p;
                e[l] = g;
                e[m] = 0;
            }
        }
    }

    /// <summary>Plane rotation of two rows: x ← c x − s y, y ← s x + c y.</summary>
    private static void Rotate(Span<double> x, Span<double> y, double c, double s)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var xv = MemoryMarshal.Cast<double, Vector<double>>(x);
            var yv = MemoryMarshal.Cast<double, Vector<double>>(y);
            var cv = new Vector<double>(c);
            var sv = new Vector<double>(s);
            for (int i = 0; i < xv.Length; i++)
            {
                var a = xv[i];
                var b = yv[i];
                xv[i] = cv * a - sv * b;
                yv[i] = sv * a + cv * b;
            }
            k = xv.Length * Vector<double>.Count;
        }
        for (; k < x.Length; k++)
        {
            double xk = x[k], yk = y[k];
            x[k] = c * xk - s * yk;
            y[k] = s * xk + c * yk;
        }
    }

    private static Matrix Prepare(Matrix a)
    {
        Symmetric.RequireSquare(a, "eigendecompose");
        if (!a.IsFinite()) throw new NativeLayersException("cannot eigendecompose a matrix that contains NaN or infinity.");
        return a;
    }

    /// <summary>Sorts descending, fixes eigenvector signs and packs the vectors as columns.</summary>
    private static EigenDecomposition Finish(double[] values, double[]? vt, int n)
    {
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (x, y) => values[y].CompareTo(values[x]) is var cmp && cmp != 0 ? cmp : x.CompareTo(y));
        var sorted = new double[n];
        for (int j = 0; j < n; j++) sorted[j] = values[order[j]];
        if (vt == null) return new EigenDecomposition(sorted, null);

        var vectors = new Matrix(n, n);
        for (int j = 0; j < n; j++)
        {
            var v = vt.AsSpan(order[j] * n, n);
            int big = TensorPrimitives.IndexOfMaxMagnitude<double>(v);
            double sign = big >= 0 && v[big] < 0 ? -1 : 1;
            for (int i = 0; i < n; i++) vectors.Data[i * n + j] = sign * v[i];
        }
        return new EigenDecomposition(sorted, vectors);
    }
}
