using ILGPU;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Shape of a RoPE launch.</summary>
public struct RopeDims
{
    /// <summary>Token rows in the vector buffer.</summary>
    public int Rows;
    /// <summary>Heads per row (heads · headDim ≤ RowStride).</summary>
    public int Heads;
    public int HeadDim;
    /// <summary>Rotated dims at the start of each head (even, ≤ HeadDim); the rest pass through (partial rotary).</summary>
    public int RotaryDim;
    /// <summary>Floats between consecutive rows.</summary>
    public int RowStride;
    /// <summary>Float offset of head 0 within a row (lets q and k inside one fused qkv row be rotated in place).</summary>
    public int RowOffset;
}

/// <summary>Rotary position embedding, Hugging Face rotate_half convention (dim i pairs with dim i + rotaryDim/2).</summary>
public static class RopeKernels
{
    /// <summary>
    /// In place: for row r at position p = positions[r], head h, i &lt; rotaryDim/2, with a = v[i], b = v[i + half]:
    /// v[i] = a·cos[p, i] − b·sin[p, i]; v[i + half] = b·cos[p, i] + a·sin[p, i]. Tables are [maxPositions, rotaryDim/2].
    /// One thread per (row, head, i) pair.
    /// </summary>
    public static void Apply(Index1D index, ArrayView<float> vectors, ArrayView<int> positions, ArrayView<float> cos, ArrayView<float> sin, RopeDims dims)
    {
        int half = dims.RotaryDim / 2;
        int perRow = dims.Heads * half;
        int r = index / perRow;
        int rem = index - r * perRow;
        int h = rem / half;
        int i = rem - h * half;
        long table = (long)positions[r] * half + i;
        float c = cos[table], s = sin[table];
        long at = (long)r * dims.RowStride + dims.RowOffset + (long)h * dims.HeadDim + i;
        float a = vectors[at], b = vectors[at + half];
        vectors[at] = a * c - b * s;
        vectors[at + half] = b * c + a * s;
    }
}
