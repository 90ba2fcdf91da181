namespace NativeLayers.Backends.Cpu;

/// <summary>A CPU backend buffer: pinned host memory, owned or wrapping a caller's buffer.</summary>
public sealed unsafe class CpuBuffer(PinnedBuffer memory) : BackendBuffer
{
    public PinnedBuffer Memory { get; } = memory;
    public override long Length => Memory.Length;
    public override void Dispose() { }

    public static float* Pointer(BufferView view) => ((CpuBuffer)view.Buffer).Memory.Pointer + view.Offset;

    public static Span<float> Span(BufferView view, long length) =>
        ((CpuBuffer)view.Buffer).Memory.Array.AsSpan(checked((int)view.Offset), checked((int)length));
}
