using System.Numerics.Tensors;

namespace NativeLayers.Backends.Cpu;

/// <summary>Row-wise normalisations, computed in float32 as Hugging Face does.</summary>
public static unsafe class Norms
{
    /// <summary>y = x · rsqrt(mean(x²) + eps) · weight, row by row. <paramref name="weight"/> already includes any +1 offset.</summary>
    public static void RmsNorm(float* x, int xStride, float* y, int yStride, int rows, int width, float* weight, float eps)
    {
        var w = new ReadOnlySpan<float>(weight, width);
        for (int r = 0; r < rows; r++)
        {
            var input = new ReadOnlySpan<float>(x + (long)r * xStride, width);
            var output = new Span<float>(y + (long)r * yStride, width);
            float meanSquare = TensorPrimitives.SumOfSquares(input) / width;
            float scale = 1f / MathF.Sqrt(meanSquare + eps);
            TensorPrimitives.Multiply(input, scale, output);
            TensorPrimitives.Multiply(output, w, output);
        }
    }

    /// <summary>y = (x - mean) / sqrt(var + eps) · weight + bias, row by row (biased variance, as torch).</summary>
    public static void LayerNorm(float* x, int xStride, float* y, int yStride, int rows, int width, float* weight, float* bias, float eps)
    {
        var w = new ReadOnlySpan<float>(weight, width);
        for (int r = 0; r < rows; r++)
        {
            var input = new ReadOnlySpan<float>(x + (long)r * xStride, width);
            var output = new Span<float>(y + (long)r * yStride, width);
            float mean = TensorPrimitives.Sum(input) / width;
            TensorPrimitives.Subtract(input, mean, output);
            float variance = TensorPrimitives.SumOfSquares(output) / width;
            TensorPrimitives.Multiply(output, 1f / MathF.Sqrt(variance + eps), output);
            TensorPrimitives.Multiply(output, w, output);
            if (bias != null) TensorPrimitives.Add(output, new ReadOnlySpan<float>(bias, width), output);
        }
    }
}
