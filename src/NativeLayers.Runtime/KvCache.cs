namespace NativeLayers.Runtime;

/// <summary>Keys (already rotated) and values of one sequence, per layer: [positions, kvHeads·headDim]. Grows by doubling.</summary>
public sealed unsafe class KvCache
{
    private readonly PinnedBuffer[] _keys, _values;
    private readonly int _stride;

    public int Length { get; internal set; }
    public int Capacity { get; private set; }

    /// <summary>Host buffers are allocated on first use (a sequence run on a device keeps its cache there instead).</summary>
    public KvCache(int layers, int stride, int initialCapacity = 64)
    {
        _stride = stride;
        _initialCapacity = Math.Max(1, initialCapacity);
        _keys = new PinnedBuffer[layers];
        _values = new PinnedBuffer[layers];
    }

    private readonly int _initialCapacity;

    public float* Keys(int layer) => _keys[layer].Pointer;
    public float* Values(int layer) => _values[layer].Pointer;

    public void EnsureCapacity(int positions)
    {
        if (positions <= Capacity) return;
        int capacity = Math.Max(positions, Math.Max(Capacity * 2, _initialCapacity));
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Grow(_keys[l], capacity);
            _values[l] = Grow(_values[l], capacity);
        }
        Capacity = capacity;
    }

    private PinnedBuffer Grow(PinnedBuffer? old, int capacity)
    {
        var grown = new PinnedBuffer(capacity * _stride);
        old?.Array.AsSpan(0, Length * _stride).CopyTo(grown.Array);
        return grown;
    }
}
