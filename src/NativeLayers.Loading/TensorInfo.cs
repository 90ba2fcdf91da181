namespace NativeLayers.Loading;

/// <summary>One tensor's entry in a safetensors header. <see cref="DataOffset"/> is relative to the data region.</summary>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long DataOffset, long ByteLength)
{
    public long ElementCount => ByteLength / DType.SizeOf();
    public int Rank => Shape.Length;
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
