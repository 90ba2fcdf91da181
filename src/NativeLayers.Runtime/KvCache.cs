namespace NativeLayers.Runtime;

/// <summary>Keys (already rotated) and values of one sequence, per layer: [positions, kvHeads·headDim]. Grows by doubling.</summary>
public sealed unsafe class KvCache
{
    private readonly PinnedBuffer[] _keys, _values;
    private readonly int _stride;

    public int Length { get; internal set; }
    public int Capacity { get; private set; }

    public KvCache(int layers, int stride, int initialCapacity = 64)
    {
        _stride = stride;
        Capacity = Math.Max(1, initialCapacity);
        _keys = new PinnedBuffer[layers];
        _values = new PinnedBuffer[layers];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new PinnedBuffer(Capacity * stride);
            _values[l] = new PinnedBuffer(Capacity * stride);
        }
    }

    public float* Keys(int layer) => _keys[layer].Pointer;
    public float* Values(int layer) => _values[layer].Pointer;

    public void EnsureCapacity(int positions)
    {
        if (positions <= Capacity) return;
        int capacity = Math.Max(positions, Capacity * 2);
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Grow(_keys[l], capacity);
            _values[l] = Grow(_values[l], capacity);
        }
        Capacity = capacity;
    }

    private PinnedBuffer Grow(PinnedBuffer old, int capacity)
    {
        var grown = new PinnedBuffer(capacity * _stride);
        old.Array.AsSpan(0, Length * _stride).CopyTo(grown.Array);
        return grown;
    }
}
