using ILGPU;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>
/// Row movement: packs selected rows of a strided buffer into a contiguous one (capture, logits, experts' inputs), and
/// adds weighted rows back to where they came from (experts' outputs).
/// </summary>
public static class CaptureKernels
{
    /// <summary>
    /// target[rows[i], c] += weights[i] · source[i, c] for i &lt; count, c &lt; width (rows distinct within a call, so no two
    /// threads write one element). One thread per element (index = i·width + c).
    /// </summary>
    public static void ScatterAddRows(Index1D index, ArrayView<float> source, ArrayView<int> rows, ArrayView<float> weights,
        ArrayView<float> target, int width)
    {
        int i = index / width;
        int c = index - i * width;
        long at = (long)rows[i] * width + c;
        target[at] = target[at] + weights[i] * source[index];
    }

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
