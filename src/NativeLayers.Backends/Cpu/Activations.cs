using System.Numerics.Tensors;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>MLP activations over one row, in place or gated (act(gate) · up).</summary>
public static class Activations
{
    private const float Sqrt2OverPi = 0.7978845608028654f;

    public static void Apply(Activation activation, Span<float> values)
    {
        switch (activation)
        {
            case Activation.Silu:
                Span<float> sig = values.Length <= 4096 ? stackalloc float[values.Length] : new float[values.Length];
                TensorPrimitives.Sigmoid(values, sig);
                TensorPrimitives.Multiply(values, sig, values);
                break;
            case Activation.GeluTanh:
                for (int i = 0; i < values.Length; i++)
                {
                    float x = values[i];
                    values[i] = 0.5f * x * (1f + MathF.Tanh(Sqrt2OverPi * (x + 0.044715f * x * x * x)));
                }
                break;
            case Activation.Gelu:
                for (int i = 0; i < values.Length; i++) values[i] = 0.5f * values[i] * (1f + Erf(values[i] * 0.70710678118654752f));
                break;
            case Activation.Relu:
                TensorPrimitives.Max(values, 0f, values);
                break;
            case Activation.SoluLn:
                // x · softmax(x) over the row; the LayerNorm that follows is the block's MLP inner norm.
                Span<float> weights = values.Length <= 4096 ? stackalloc float[values.Length] : new float[values.Length];
                values.CopyTo(weights);
                Sampling.Softmax(weights);
                TensorPrimitives.Multiply(values, weights, values);
                break;
            default:
                throw new NativeLayersException($"activation {activation} is not implemented.");
        }
    }

    /// <summary>out = act(gate) · up, elementwise; gate is overwritten.</summary>
    public static void ApplyGated(Activation activation, Span<float> gate, ReadOnlySpan<float> up, Span<float> output)
    {
        Apply(activation, gate);
        TensorPrimitives.Multiply(gate, up, output);
    }

    /// <summary>Error function in double precision (Numerical Recipes' erfc Chebyshev fit, relative error below 1.2e-7).</summary>
    public static float Erf(float value)
    {
        double x = value, z = Math.Abs(x), t = 1.0 / (1.0 + 0.5 * z);
        double erfc = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
            + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return (float)(x >= 0 ? 1.0 - erfc : erfc - 1.0);
    }
}
