using System.Numerics.Tensors;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Linalg;

/// <summary>
/// A dense row-major float64 matrix: element (i, j) is <c>Data[i * Cols + j]</c>. Rows are observations wherever a
/// method takes a data matrix (N×D). The type is deliberately small: storage, row access and the few products the
/// analysis code needs.
/// </summary>
public sealed class Matrix
{
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Row-major storage of length <c>Rows * Cols</c>; writable, shared (not copied) by the constructor.</summary>
    public double[] Data { get; }

    public Matrix(int rows, int cols)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"a matrix cannot be {rows}×{cols}.");
        if ((long)rows * cols > Array.MaxLength)
            throw new NativeLayersException($"a {rows}×{cols} matrix is too large to hold in memory as one array.");
        Rows = rows; Cols = cols; Data = new double[rows * cols];
    }

    /// <summary>Wraps <paramref name="data"/> (row-major, not copied).</summary>
    public Matrix(int rows, int cols, double[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"a matrix cannot be {rows}×{cols}.");
        if ((long)rows * cols != data.Length)
            throw new NativeLayersException($"a {rows}×{cols} matrix needs {(long)rows * cols} values, got {data.Length}.");
        Rows = rows; Cols = cols; Data = data;
    }

    /// <summary>Converts row-major float32 values (for example a residual buffer read) to float64.</summary>
    public static Matrix FromFloats(int rows, int cols, ReadOnlySpan<float> values)
    {
        if ((long)rows * cols != values.Length)
            throw new NativeLayersException($"a {rows}×{cols} matrix needs {(long)rows * cols} values, got {values.Length}.");
        var m = new Matrix(rows, cols);
        for (int i = 0; i < values.Length; i++) m.Data[i] = values[i];
        return m;
    }

    /// <summary>Builds a matrix from rows of equal length (copied).</summary>
    public static Matrix FromRows(params double[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int cols = rows.Length == 0 ? 0 : rows[0].Length;
        var m = new Matrix(rows.Length, cols);
        for (int i = 0; i < rows.Length; i++)
        {
            if (rows[i].Length != cols)
                throw new NativeLayersException($"row {i} has {rows[i].Length} values, row 0 has {cols}.");
            rows[i].CopyTo(m.Data, i * cols);
        }
        return m;
    }

    public static Matrix Identity(int n)
    {
        var m = new Matrix(n, n);
        for (int i = 0; i < n; i++) m.Data[i * n + i] = 1;
        return m;
    }

    public double this[int row, int col]
    {
        get => Data[Index(row, col)];
        set => Data[Index(row, col)] = value;
    }

    private int Index(int row, int col)
    {
        if ((uint)row >= (uint)Rows || (uint)col >= (uint)Cols)
            throw new ArgumentOutOfRangeException(nameof(row), $"({row}, {col}) is outside a {Rows}×{Cols} matrix.");
        return row * Cols + col;
    }

    public Span<double> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} of a {Rows}-row matrix.");
        return Data.AsSpan(row * Cols, Cols);
    }

    public double[] Column(int col)
    {
        if ((uint)col >= (uint)Cols) throw new ArgumentOutOfRangeException(nameof(col), $"column {col} of a {Cols}-column matrix.");
        var c = new double[Rows];
        for (int i = 0; i < Rows; i++) c[i] = Data[i * Cols + col];
        return c;
    }

    public Matrix Clone() => new(Rows, Cols, (double[])Data.Clone());

    public Matrix Transpose()
    {
        var t = new Matrix(Cols, Rows);
        for (int i = 0; i < Rows; i++)
            for (int j = 0; j < Cols; j++)
                t.Data[j * Rows + i] = Data[i * Cols + j];
        return t;
    }

    /// <summary>The product <c>this · other</c>.</summary>
    public Matrix Multiply(Matrix other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Cols != other.Rows)
            throw new NativeLayersException($"cannot multiply a {Rows}×{Cols} matrix by a {other.Rows}×{other.Cols} one.");
        var c = new Matrix(Rows, other.Cols);
        int n = other.Cols;
        for (int i = 0; i < Rows; i++)
        {
            var ci = c.Data.AsSpan(i * n, n);
            for (int k = 0; k < Cols; k++)
            {
                double a = Data[i * Cols + k];
                if (a == 0) continue;
                TensorPrimitives.MultiplyAdd(other.Data.AsSpan(k * n, n), a, ci, ci);
            }
        }
        return c;
    }

    /// <summary>The product <c>this · x</c> for a vector <paramref name="x"/> of length <see cref="Cols"/>.</summary>
    public double[] Multiply(ReadOnlySpan<double> x)
    {
        if (x.Length != Cols) throw new NativeLayersException($"cannot multiply a {Rows}×{Cols} matrix by a {x.Length}-vector.");
        var y = new double[Rows];
        for (int i = 0; i < Rows; i++) y[i] = TensorPrimitives.Dot(Data.AsSpan(i * Cols, Cols), x);
        return y;
    }

    /// <summary>The row Gram matrix <c>A Aᵀ</c> (Rows×Rows), exactly symmetric.</summary>
    public Matrix RowGram()
    {
        var g = new Matrix(Rows, Rows);
        for (int i = 0; i < Rows; i++)
        {
            var ri = Data.AsSpan(i * Cols, Cols);
            for (int j = i; j < Rows; j++)
            {
                double v = TensorPrimitives.Dot(ri, Data.AsSpan(j * Cols, Cols));
                g.Data[i * Rows + j] = v;
                g.Data[j * Rows + i] = v;
            }
        }
        return g;
    }

    /// <summary>The column Gram matrix <c>Aᵀ A</c> (Cols×Cols), exactly symmetric.</summary>
    public Matrix ColumnGram()
    {
        int d = Cols;
        var g = new Matrix(d, d);
        // Accumulate the upper triangle as a sum of rank-one updates (row i of g gets a_i · a[i..]).
        for (int r = 0; r < Rows; r++)
        {
            var a = Data.AsSpan(r * d, d);
            for (int i = 0; i < d; i++)
            {
                double ai = a[i];
                if (ai == 0) continue;
                var gi = g.Data.AsSpan(i * d + i, d - i);
                TensorPrimitives.MultiplyAdd(a[i..], ai, gi, gi);
            }
        }
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++)
                g.Data[j * d + i] = g.Data[i * d + j];
        return g;
    }

    /// <summary>The mean row (length <see cref="Cols"/>).</summary>
    public double[] ColumnMeans()
    {
        var mean = new double[Cols];
        if (Rows == 0) return mean;
        for (int i = 0; i < Rows; i++) TensorPrimitives.Add(mean, Data.AsSpan(i * Cols, Cols), mean);
        TensorPrimitives.Multiply(mean, 1.0 / Rows, mean);
        return mean;
    }

    /// <summary><c>CenterRows</c> of §0.3: a new matrix with the mean row subtracted from every row.</summary>
    public Matrix CenterRows()
    {
        var mean = ColumnMeans();
        var c = Clone();
        for (int i = 0; i < Rows; i++)
        {
            var row = c.Data.AsSpan(i * Cols, Cols);
            TensorPrimitives.Subtract(row, mean, row);
        }
        return c;
    }

    /// <summary>True when every element is finite (no NaN or infinity).</summary>
    public bool IsFinite()
    {
        foreach (double v in Data) if (!double.IsFinite(v)) return false;
        return true;
    }
}
