using ILGPU;
using ILGPU.Runtime;
using NativeLayers.Backends.Gpu.Kernels;

namespace NativeLayers.Backends.Gpu;

/// <summary>One sequence's keys and values on the device, per layer: [capacity, kvHeads·headDim]; grows by doubling.</summary>
public sealed class GpuKvCache(GpuDevice gpu, int layers, int stride, int initialCapacity) : KvCache
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _keys = new MemoryBuffer1D<float, Stride1D.Dense>[layers];
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _values = new MemoryBuffer1D<float, Stride1D.Dense>[layers];
    private int _capacity;

    public override int Capacity => _capacity;

    public ArrayView<float> Keys(int layer) => _keys[layer].View;
    public ArrayView<float> Values(int layer) => _values[layer].View;

    public override void EnsureCapacity(int positions)
    {
        if (positions <= _capacity) return;
        int capacity = Math.Max(positions, Math.Max(Math.Max(16, initialCapacity), _capacity * 2));
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Grow(_keys[l], capacity);
            _values[l] = Grow(_values[l], capacity);
        }
        _capacity = capacity;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Grow(MemoryBuffer1D<float, Stride1D.Dense>? old, int capacity)
    {
        var grown = gpu.Allocate<float>((long)capacity * stride);
        if (old != null)
        {
            if (Length > 0) old.View.SubView(0, (long)Length * stride).CopyTo(gpu.Stream, grown.View.SubView(0, (long)Length * stride));
            gpu.Synchronize();
            old.Dispose();
        }
        return grown;
    }

    public override void Dispose()
    {
        foreach (var b in _keys) b?.Dispose();
        foreach (var b in _values) b?.Dispose();
    }
}
