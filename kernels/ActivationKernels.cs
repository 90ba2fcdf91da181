using ILGPU;
using ILGPU.Algorithms;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Activation codes understood by the kernels (same meaning as <see cref="NativeLayers.Loading.Activation"/>).</summary>
public static class ActivationCodes
{
    public const int Silu = 0, GeluTanh = 1, Gelu = 2, Relu = 3;
}

/// <summary>MLP activations, elementwise: plain (in place) and gated act(gate) · up.</summary>
public static class ActivationKernels
{
    private const float Sqrt2OverPi = 0.7978845608028654f;
    private const float InvSqrt2 = 0.70710678118654752f;

    /// <summary>erf(x) by Abramowitz–Stegun 7.1.26 (absolute error ≤ 1.5e-7), odd-symmetric.</summary>
    internal static float Erf(float x)
    {
        float z = x < 0f ? -x : x;
        float t = 1f / (1f + 0.3275911f * z);
        float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
        float r = 1f - poly * MathF.Exp(-z * z);
        return x < 0f ? -r : r;
    }

    internal static float Act(int kind, float x)
    {
        if (kind == ActivationCodes.Silu) return x / (1f + MathF.Exp(-x));
        if (kind == ActivationCodes.GeluTanh) return 0.5f * x * (1f + MathF.Tanh(Sqrt2OverPi * (x + 0.044715f * x * x * x)));
        if (kind == ActivationCodes.Gelu) return 0.5f * x * (1f + Erf(x * InvSqrt2));
        return x > 0f ? x : 0f;
    }

    /// <summary>values[r, c] = act(values[r, c]) in place; one thread per element (index = r·width + c).</summary>
    public static void Plain(Index1D index, ArrayView<float> values, int width, int stride, int kind)
    {
        int r = index / width;
        long at = (long)r * stride + (index - r * width);
        values[at] = Act(kind, values[at]);
    }

    /// <summary>
    /// output[r, c] = act(gate[r, c]) · up[r, c]; one thread per element (index = r·width + c). Strides let gate and up
    /// be the two halves of a fused gate_up row; output may alias gate.
    /// </summary>
    public static void Gated(Index1D index, ArrayView<float> gate, int gateStride, ArrayView<float> up, int upStride,
        ArrayView<float> output, int outStride, int width, int kind)
    {
        int r = index / width;
        int c = index - r * width;
        float g = gate[(long)r * gateStride + c];
        output[(long)r * outStride + c] = Act(kind, g) * up[(long)r * upStride + c];
    }

    /// <summary>
    /// SoLU's first half, in place: values[r, c] = x · softmax(x)[c] over the row's <paramref name="width"/> values
    /// (numerically stable; each thread reads and writes only its own columns; the LayerNorm that follows is a norm op of
    /// its own). Grid = rows, 1-D group.
    /// </summary>
    public static void Solu(ArrayView<float> values, int stride, int width)
    {
        var scratch = SharedMemory.Allocate<float>(32);
        long row = (long)Grid.IdxX * stride;
        float max = Reduce.RowMax(values, row, width, 1f, scratch, out float norm);
        for (int c = Group.IdxX; c < width; c += Group.DimX)
        {
            float v = values[row + c];
            values[row + c] = v * XMath.Exp(v - max) * norm;
        }
    }
}
