using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>The pre-processing operators of metrics.md §0.3, in float64, each returning a new matrix.</summary>
public static class Preprocessing
{
    /// <summary><c>CenterRows(Z)</c> (§0.3): subtract the mean row from every row.</summary>
    public static Matrix CenterRows(Matrix z)
    {
        ArgumentNullException.ThrowIfNull(z);
        return z.CenterRows();
    }

    /// <summary>
    /// <c>UnitRows(Z)</c> (§0.3): every row divided by its L2 norm. A zero row is a <see cref="NativeLayersException"/>
    /// in <see cref="MetricMode.Recommended"/>; in <see cref="MetricMode.PaperCompat"/> it becomes NaN (0/0), and the
    /// caller drops the item.
    /// </summary>
    public static Matrix UnitRows(Matrix z, MetricMode mode = MetricMode.Recommended)
    {
        ArgumentNullException.ThrowIfNull(z);
        var u = z.Clone();
        UnitRowsInPlace(u, mode);
        return u;
    }

    internal static void UnitRowsInPlace(Matrix u, MetricMode mode)
    {
        for (int i = 0; i < u.Rows; i++)
        {
            var row = u.Row(i);
            double norm = TensorPrimitives.Norm((ReadOnlySpan<double>)row);
            if (norm == 0)
            {
                if (mode == MetricMode.Recommended)
                    throw new NativeLayersException($"row {i} is zero and cannot be put on the unit sphere (UnitRows, §0.3).");
                row.Fill(double.NaN);
                continue;
            }
            TensorPrimitives.Multiply(row, 1.0 / norm, row);
        }
    }

    /// <summary>
    /// <c>TokenNorm(Z) = UnitRows(CenterRows(Z))</c> (§0.3): centre across the prompt's tokens, then put every token on the
    /// unit sphere. A single-token prompt (or any token equal to the mean) fails in Recommended mode and gives NaN rows in
    /// PaperCompat mode.
    /// </summary>
    public static Matrix TokenNorm(Matrix z, MetricMode mode = MetricMode.Recommended)
    {
        ArgumentNullException.ThrowIfNull(z);
        var c = z.CenterRows();
        UnitRowsInPlace(c, mode);
        return c;
    }

    /// <summary>TokenNorm that reports failure (a zero centred row) instead of throwing; the runner skips and counts such prompts.</summary>
    public static bool TryTokenNorm(Matrix z, out Matrix normalized)
    {
        ArgumentNullException.ThrowIfNull(z);
        normalized = z.CenterRows();
        for (int i = 0; i < normalized.Rows; i++)
        {
            var row = normalized.Row(i);
            double norm = TensorPrimitives.Norm((ReadOnlySpan<double>)row);
            if (norm == 0 || !double.IsFinite(norm)) return false;
            TensorPrimitives.Multiply(row, 1.0 / norm, row);
        }
        return true;
    }

    /// <summary><c>MeanPool(Z, mask)</c> (§0.3): the mean of the rows whose mask is true (all rows when the mask is null).</summary>
    public static double[] MeanPool(Matrix z, ReadOnlySpan<bool> mask = default)
    {
        ArgumentNullException.ThrowIfNull(z);
        if (!mask.IsEmpty && mask.Length != z.Rows)
            throw new NativeLayersException($"the mask has {mask.Length} entries for {z.Rows} rows.");
        var mean = new double[z.Cols];
        int count = 0;
        for (int i = 0; i < z.Rows; i++)
        {
            if (!mask.IsEmpty && !mask[i]) continue;
            TensorPrimitives.Add(mean, z.Row(i), mean);
            count++;
        }
        if (count == 0) throw new NativeLayersException("MeanPool of no rows: every position is masked out.");
        TensorPrimitives.Multiply(mean, 1.0 / count, mean);
        return mean;
    }

    /// <summary>Stacks equal-length vectors as the rows of a matrix (copied).</summary>
    public static Matrix Stack(IReadOnlyList<double[]> rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var m = new Matrix(rows.Count, cols);
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i].Length != cols) throw new NativeLayersException($"row {i} has {rows[i].Length} values, expected {cols}.");
            rows[i].CopyTo(m.Data, i * cols);
        }
        return m;
    }
}
