using ILGPU;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Row-wise normalisations (float32 math, as Hugging Face). One group per row; the group strides over the row.</summary>
public static class NormKernels
{
    /// <summary>y[r] = x[r] · rsqrt(mean(x[r]²) + eps) · weight (weight already includes any +1 offset). Grid = rows, 1-D group.</summary>
    public static void RmsNorm(ArrayView<float> x, int xStride, ArrayView<float> y, int yStride, int width, ArrayView<float> weight, float eps)
    {
        var scratch = SharedMemory.Allocate<float>(32);
        long xRow = (long)Grid.IdxX * xStride, yRow = (long)Grid.IdxX * yStride;
        int step = Group.DimX;
        float sum = 0f;
        for (int c = Group.IdxX; c < width; c += step)
        {
            float v = x[xRow + c];
            sum += v * v;
        }
        float total = Reduce.GroupSum(sum, scratch);
        float scale = 1f / MathF.Sqrt(total / width + eps);
        for (int c = Group.IdxX; c < width; c += step)
            y[yRow + c] = x[xRow + c] * scale * weight[c];
    }

    /// <summary>
    /// y[r] = (x[r] − mean) / sqrt(var + eps) · weight + bias (biased variance, as torch; two-pass). bias may be an empty
    /// view (hasBias = 0). Grid = rows, 1-D group.
    /// </summary>
    public static void LayerNorm(ArrayView<float> x, int xStride, ArrayView<float> y, int yStride, int width,
        ArrayView<float> weight, ArrayView<float> bias, int hasBias, float eps)
    {
        var scratch = SharedMemory.Allocate<float>(32);
        long xRow = (long)Grid.IdxX * xStride, yRow = (long)Grid.IdxX * yStride;
        int step = Group.DimX;
        float sum = 0f;
        for (int c = Group.IdxX; c < width; c += step) sum += x[xRow + c];
        float mean = Reduce.GroupSum(sum, scratch) / width;
        float squares = 0f;
        for (int c = Group.IdxX; c < width; c += step)
        {
            float d = x[xRow + c] - mean;
            squares += d * d;
        }
        float inv = 1f / MathF.Sqrt(Reduce.GroupSum(squares, scratch) / width + eps);
        for (int c = Group.IdxX; c < width; c += step)
        {
            float v = (x[xRow + c] - mean) * inv * weight[c];
            if (hasBias != 0) v += bias[c];
            y[yRow + c] = v;
        }
    }
}
