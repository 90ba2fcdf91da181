namespace NativeLayers.Backends;

/// <summary>Float32 values where a backend computes: host memory for the CPU backend, device memory for a GPU.</summary>
public abstract class BackendBuffer : IDisposable
{
    public abstract long Length { get; }
    public abstract void Dispose();
}

/// <summary>A buffer from an element offset on: how ops address a part of a buffer (the k columns of a fused qkv row, a slot).</summary>
public readonly record struct BufferView(BackendBuffer Buffer, long Offset = 0)
{
    public BufferView At(long offset) => new(Buffer, Offset + offset);

    public static implicit operator BufferView(BackendBuffer buffer) => new(buffer);
}
