using ILGPU;
using ILGPU.Runtime;

namespace NativeLayers.Backends.Gpu;

/// <summary>A GPU backend buffer: float32 device memory.</summary>
public sealed class GpuBuffer(MemoryBuffer1D<float, Stride1D.Dense> memory) : BackendBuffer
{
    public MemoryBuffer1D<float, Stride1D.Dense> Memory { get; } = memory;
    public override long Length => Memory.Length;
    public override void Dispose() => Memory.Dispose();

    /// <summary>The device view from the view's offset to the end of its buffer.</summary>
    public static ArrayView<float> View(BufferView view) => ((GpuBuffer)view.Buffer).Memory.View.AsContiguous().SubView(view.Offset);

    public static ArrayView<float> View(BufferView view, long length) => ((GpuBuffer)view.Buffer).Memory.View.AsContiguous().SubView(view.Offset, length);
}
