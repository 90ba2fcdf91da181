using ILGPU;
using ILGPU.Runtime;
using NativeLayers.Gpu;

namespace NativeLayers.Runtime.Device;

/// <summary>One sequence's keys and values on the device, per layer: [capacity, kvHeads·headDim]; grows by doubling.</summary>
internal sealed class DeviceKvCache(GpuDevice gpu, int layers, int stride)
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _keys = new MemoryBuffer1D<float, Stride1D.Dense>[layers];
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _values = new MemoryBuffer1D<float, Stride1D.Dense>[layers];

    public int Capacity { get; private set; }

    public ArrayView<float> Keys(int layer) => _keys[layer].View;
    public ArrayView<float> Values(int layer) => _values[layer].View;

    public void EnsureCapacity(int positions, int used)
    {
        if (positions <= Capacity) return;
        int capacity = Math.Max(positions, Math.Max(16, Capacity * 2));
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Grow(_keys[l], capacity, used);
            _values[l] = Grow(_values[l], capacity, used);
        }
        Capacity = capacity;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Grow(MemoryBuffer1D<float, Stride1D.Dense>? old, int capacity, int used)
    {
        var grown = gpu.Allocate<float>((long)capacity * stride);
        if (old != null)
        {
            if (used > 0) old.View.SubView(0, (long)used * stride).CopyTo(gpu.Stream, grown.View.SubView(0, (long)used * stride));
            gpu.Synchronize();
            old.Dispose();
        }
        return grown;
    }
}
