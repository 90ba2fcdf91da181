namespace NativeLayers.Backends.Cpu;

/// <summary>Host keys and values per layer: [capacity, kvHeads·headDim] pinned buffers, grown by doubling.</summary>
public sealed unsafe class CpuKvCache(int layers, int stride, int initialCapacity = 64) : KvCache
{
    private readonly PinnedBuffer[] _keys = new PinnedBuffer[layers], _values = new PinnedBuffer[layers];
    private readonly int _initialCapacity = Math.Max(1, initialCapacity);
    private int _capacity;

    public override int Capacity => _capacity;

    public float* Keys(int layer) => _keys[layer].Pointer;
    public float* Values(int layer) => _values[layer].Pointer;

    public override void EnsureCapacity(int positions)
    {
        if (positions <= _capacity || Transient) return;
        int capacity = Math.Max(positions, Math.Max(_capacity * 2, _initialCapacity));
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Grow(_keys[l], capacity);
            _values[l] = Grow(_values[l], capacity);
        }
        _capacity = capacity;
    }

    private PinnedBuffer Grow(PinnedBuffer? old, int capacity)
    {
        var grown = new PinnedBuffer(checked(capacity * stride));
        old?.Array.AsSpan(0, Length * stride).CopyTo(grown.Array);
        return grown;
    }
}
