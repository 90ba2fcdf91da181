using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

/// <summary>Validation and small derived quantities of activation matrices (rows = examples, columns = D).</summary>
public static class Activations
{
    /// <summary>Checks H⁺ and H⁻ form N ≥ 1 pairs of equal width with finite values.</summary>
    public static void RequirePairs(Matrix positive, Matrix? negative, string method)
    {
        RequireRows(positive, "positive", method);
        if (negative is null) throw new NativeLayersException($"{method} needs negative activations (H⁻).");
        RequireRows(negative, "negative", method);
        if (negative.Rows != positive.Rows)
            throw new NativeLayersException($"{method} pairs row i of H⁺ with row i of H⁻, but H⁺ has {positive.Rows} rows and H⁻ {negative.Rows}.");
        RequireSameWidth(positive, negative, method);
    }

    public static void RequireRows(Matrix m, string which, string method)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (m.Rows == 0 || m.Cols == 0)
            throw new NativeLayersException($"{method}: the {which} activations are empty ({m.Rows}×{m.Cols}).");
        if (!m.IsFinite())
            throw new NativeLayersException($"{method}: the {which} activations contain NaN or infinity.");
    }

    public static void RequireSameWidth(Matrix a, Matrix b, string method)
    {
        if (a.Cols != b.Cols)
            throw new NativeLayersException($"{method}: H⁺ has width {a.Cols} but H⁻ has width {b.Cols}.");
    }

    /// <summary>The pair differences d_i = h⁺_i − h⁻_i as an N×D matrix.</summary>
    public static Matrix Differences(Matrix positive, Matrix negative)
    {
        if (positive.Rows != negative.Rows || positive.Cols != negative.Cols)
            throw new NativeLayersException($"cannot pair a {positive.Rows}×{positive.Cols} H⁺ with a {negative.Rows}×{negative.Cols} H⁻.");
        var d = new Matrix(positive.Rows, positive.Cols);
        TensorPrimitives.Subtract(positive.Data, negative.Data, d.Data);
        return d;
    }

    /// <summary>
    /// For every-token rows (llama.cpp's cvector-generator reads every position): drops the pairs whose difference is (near) zero, i.e. every
    /// |h⁺_ij − h⁻_ij| ≤ <paramref name="epsilon"/> (positions where the two prompts coincide, padding included), as
    /// llama.cpp's cvector-generator does. Returns the kept rows and how many pairs were dropped.
    /// </summary>
    public static (Matrix Positive, Matrix Negative, int Dropped) DropZeroDifferencePairs(Matrix positive, Matrix negative, double epsilon = 1e-6)
    {
        RequirePairs(positive, negative, "dropping zero-difference pairs");
        int d = positive.Cols;
        var keep = new List<int>();
        for (int i = 0; i < positive.Rows; i++)
        {
            var a = positive.Row(i);
            var b = negative.Row(i);
            for (int k = 0; k < d; k++)
                if (Math.Abs(a[k] - b[k]) > epsilon) { keep.Add(i); break; }
        }
        var p = new Matrix(keep.Count, d);
        var n = new Matrix(keep.Count, d);
        for (int r = 0; r < keep.Count; r++)
        {
            positive.Row(keep[r]).CopyTo(p.Row(r));
            negative.Row(keep[r]).CopyTo(n.Row(r));
        }
        return (p, n, positive.Rows - keep.Count);
    }

    /// <summary>Median L2 norm over the rows of all given matrices (the r of <c>ScaleToResidNorm</c>).</summary>
    public static double MedianRowNorm(params Matrix?[] matrices)
    {
        var norms = new List<double>();
        foreach (var m in matrices)
        {
            if (m is null) continue;
            for (int i = 0; i < m.Rows; i++) norms.Add(TensorPrimitives.Norm<double>(m.Row(i)));
        }
        return VectorMath.Median(norms.ToArray());
    }
}
