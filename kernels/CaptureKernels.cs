using ILGPU;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Capture: packs selected rows of a strided buffer into a contiguous one, ready for an async device→host copy.</summary>
public static class CaptureKernels
{
    /// <summary>
    /// destination[i, c] = source[rows[i], c] for i &lt; count, c &lt; width; destination is dense [count, width] starting at
    /// destOffset (floats). One thread per element (index = i·width + c).
    /// </summary>
    public static void GatherRows(Index1D index, ArrayView<float> source, int sourceStride, ArrayView<int> rows,
        ArrayView<float> destination, long destOffset, int width)
    {
        int i = index / width;
        int c = index - i * width;
        destination[destOffset + index] = source[(long)rows[i] * sourceStride + c];
    }
}
