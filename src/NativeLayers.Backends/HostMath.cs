using System.Numerics.Tensors;

namespace NativeLayers.Backends;

/// <summary>Small vectorised host-side transforms shared by the CPU kernels and the driver's host post-processing.</summary>
public static class HostMath
{
    /// <summary>values ← c · tanh(values / c) when c &gt; 0 (soft-capping of attention scores or logits, Gemma 2).</summary>
    public static void SoftCap(Span<float> values, float cap)
    {
        if (cap <= 0) return;
        TensorPrimitives.Multiply(values, 1 / cap, values);
        TensorPrimitives.Tanh(values, values);
        TensorPrimitives.Multiply(values, cap, values);
    }
}
