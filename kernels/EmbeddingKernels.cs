using ILGPU;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Token embedding lookup.</summary>
public static class EmbeddingKernels
{
    /// <summary>
    /// output[t, c] = scale · table[ids[t], c] for t &lt; rows, c &lt; width (one thread per element; index = t·width + c).
    /// Ids outside [0, vocab) produce a zero row.
    /// </summary>
    public static void Gather<TStore, TFormat>(Index1D index, ArrayView<int> ids, ArrayView<TStore> table, ArrayView<float> output,
        int width, int vocab, int outStride, float scale)
        where TStore : unmanaged where TFormat : struct, IWeightFormat<TStore>
    {
        int t = index / width;
        int c = index - t * width;
        int id = ids[t];
        float value = 0f;
        if (id >= 0 && id < vocab) value = default(TFormat).ToFloat(table[(long)id * width + c]) * scale;
        output[(long)t * outStride + c] = value;
    }
}
