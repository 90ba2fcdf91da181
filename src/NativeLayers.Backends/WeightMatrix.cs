using NativeLayers.Loading;

namespace NativeLayers.Backends;

/// <summary>
/// A row-major [Rows, Cols] weight matrix in its stored dtype (F32, F16 or BF16), pointing into the memory-mapped
/// file: nn.Linear layout, Rows = output features, Cols = input features. Never copied to float32.
/// </summary>
public readonly unsafe struct WeightMatrix
{
    public readonly byte* Data;
    public readonly DType DType;
    public readonly int Rows;
    public readonly int Cols;

    public WeightMatrix(byte* data, DType dtype, int rows, int cols)
    {
        if (dtype is not (DType.F32 or DType.F16 or DType.BF16))
            throw new NativeLayersException($"weights must be F32, F16 or BF16, got {dtype}.");
        Data = data; DType = dtype; Rows = rows; Cols = cols;
    }

    public int ElementSize => DType.SizeOf();
    public long ByteLength => (long)Rows * Cols * ElementSize;
    public byte* RowPointer(int row) => Data + (long)row * Cols * ElementSize;

    /// <summary>A view of rows [first, first + count).</summary>
    public WeightMatrix RowRange(int first, int count) => new(RowPointer(first), DType, count, Cols);

    /// <summary>Copies one row into <paramref name="destination"/> as float32 (embedding lookups).</summary>
    public void ReadRow(int row, Span<float> destination)
    {
        fixed (float* d = destination) Cpu.WeightConversion.ToFloat32(RowPointer(row), DType, d, Cols);
    }
}
