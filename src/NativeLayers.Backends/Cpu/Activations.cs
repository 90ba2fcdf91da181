using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
                GeluTanh(values);
                break;
            case Activation.Gelu:
                GeluErf(values);
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

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), vectorised.</summary>
    private static void GeluTanh(Span<float> values)
    {
        Span<float> inner = values.Length <= 4096 ? stackalloc float[values.Length] : new float[values.Length];
        TensorPrimitives.Multiply(values, values, inner);                  // x²
        TensorPrimitives.Multiply(inner, 0.044715f, inner);
        TensorPrimitives.Add(inner, 1f, inner);                              // 1 + 0.044715x²
        TensorPrimitives.Multiply(inner, values, inner);                    // x + 0.044715x³
        TensorPrimitives.Multiply(inner, Sqrt2OverPi, inner);
        TensorPrimitives.Tanh(inner, inner);
        TensorPrimitives.Add(inner, 1f, inner);
        TensorPrimitives.Multiply(values, inner, values);
        TensorPrimitives.Multiply(values, 0.5f, values);
    }

    // Abramowitz & Stegun 7.1.26: erf(z) = 1 − t·(a1 + t(a2 + t(a3 + t(a4 + t·a5))))·exp(−z²), t = 1/(1 + p·z), z ≥ 0; |error| ≤ 1.5e-7.
    private const float ErfP = 0.3275911f, ErfA1 = 0.254829592f, ErfA2 = -0.284496736f, ErfA3 = 1.421413741f, ErfA4 = -1.453152027f, ErfA5 = 1.061405429f;

    /// <summary>Exact GELU 0.5·x·(1 + erf(x/√2)) in one pass per vector (the MLP's widest elementwise op).</summary>
    private static void GeluErf(Span<float> values)
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        int i = 0;
        if (Simd.Use512)
            for (; i + Vector512<float>.Count <= values.Length; i += Vector512<float>.Count)
                GeluErf(Vector512.LoadUnsafe(ref start, (nuint)i)).StoreUnsafe(ref start, (nuint)i);
        for (; i + Vector256<float>.Count <= values.Length; i += Vector256<float>.Count)
            GeluErf(Vector256.LoadUnsafe(ref start, (nuint)i)).StoreUnsafe(ref start, (nuint)i);
        for (; i < values.Length; i++) values[i] = GeluErf(Vector256.Create(values[i])).ToScalar();
    }

    // With q = 1 − erf(|x|/√2) from the approximation below: GELU = 0.5·x·(2 − q) for x ≥ 0 and 0.5·x·q for x < 0.
    private static Vector512<float> GeluErf(Vector512<float> x)
    {
        var z = Vector512.Abs(x) * Vector512.Create(0.70710678118654752f);
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(z, Vector512.Create(ErfP), Vector512<float>.One);
        var p = Vector512.FusedMultiplyAdd(t, Vector512.Create(ErfA5), Vector512.Create(ErfA4));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(ErfA3));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(ErfA2));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(ErfA1));
        var q = p * t * Vector512.Exp(-(z * z));
        var factor = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), q, Vector512.Create(2f) - q);
        return Vector512.Create(0.5f) * x * factor;
    }

    private static Vector256<float> GeluErf(Vector256<float> x)
    {
        var z = Vector256.Abs(x) * Vector256.Create(0.70710678118654752f);
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(z, Vector256.Create(ErfP), Vector256<float>.One);
        var p = Vector256.FusedMultiplyAdd(t, Vector256.Create(ErfA5), Vector256.Create(ErfA4));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(ErfA3));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(ErfA2));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(ErfA1));
        var q = p * t * Vector256.Exp(-(z * z));
        var factor = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), q, Vector256.Create(2f) - q);
        return Vector256.Create(0.5f) * x * factor;
    }

    /// <summary>result = erf(x), vectorised with the approximation above (result may be x itself).</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> result)
    {
        int n = x.Length;
        Span<float> scratch = n <= 1024 ? stackalloc float[3 * n] : new float[3 * n];
        Span<float> z = scratch[..n], t = scratch[n..(2 * n)], p = scratch[(2 * n)..];
        TensorPrimitives.Abs(x, z);
        TensorPrimitives.Multiply(z, ErfP, t);
        TensorPrimitives.Add(t, 1f, t);
        TensorPrimitives.Reciprocal(t, t);                                   // t = 1/(1 + p·|x|)
        TensorPrimitives.Multiply(z, z, z);
        TensorPrimitives.Negate(z, z);
        TensorPrimitives.Exp(z, z);                                          // exp(−x²)
        TensorPrimitives.Multiply(t, ErfA5, p);                              // Horner: a4 + t·a5, ...
        TensorPrimitives.Add(p, ErfA4, p);
        TensorPrimitives.MultiplyAdd(p, t, ErfA3, p);
        TensorPrimitives.MultiplyAdd(p, t, ErfA2, p);
        TensorPrimitives.MultiplyAdd(p, t, ErfA1, p);
        TensorPrimitives.Multiply(p, t, p);
        TensorPrimitives.Multiply(p, z, p);                                  // 1 − erf(|x|)
        TensorPrimitives.Subtract(1f, p, p);
        TensorPrimitives.CopySign(p, x, result);
    }

    /// <summary>out = act(gate) · up, elementwise; gate is overwritten.</summary>
    public static void ApplyGated(Activation activation, Span<float> gate, ReadOnlySpan<float> up, Span<float> output)
    {
        Apply(activation, gate);
        TensorPrimitives.Multiply(gate, up, output);
    }
}
