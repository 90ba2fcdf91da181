using System.Numerics.Tensors;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// Mamba's causal conv and selective scan over a block of channels [first, first + count): every loop runs along the
/// channels (the layouts are channel-minor), so the exponentials and multiply-adds are vectorised and the scan's state
/// stays in cache while a sequence's tokens pass through it.
/// </summary>
public static unsafe class StateSpaceKernels
{
    /// <summary>
    /// One sequence's conv for its <paramref name="tokens"/> rows of x (<paramref name="xStride"/> apart), continuing from
    /// <paramref name="state"/> ([K − 1, channels]: the inputs before the first row, oldest first), which it updates.
    /// </summary>
    public static void Conv(float* x, int xStride, int tokens, StateSpaceWeights w, float* state, float* y, int first, int count)
    {
        int channels = w.Channels, k = w.Kernel, history = k - 1;
        float* taps = w.ConvTaps.Pointer, bias = w.ConvBias == null ? null : w.ConvBias.Pointer;
        for (int t = 0; t < tokens; t++)
        {
            var output = new Span<float>(y + (long)t * channels + first, count);
            if (bias != null) new ReadOnlySpan<float>(bias + first, count).CopyTo(output);
            else output.Clear();
            for (int tap = 0; tap < k; tap++)
            {
                int source = t - history + tap;
                float* input = source >= 0 ? x + (long)source * xStride : state + (long)(history + source) * channels;
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(input + first, count), new ReadOnlySpan<float>(taps + (long)tap * channels + first, count), output, output);
            }
            Activations.Apply(Activation.Silu, output);
        }
        // The state keeps the last K − 1 inputs; row j comes from old row tokens + j while the new rows are too few,
        // which ascending j reads before it overwrites.
        for (int j = 0; j < history; j++)
        {
            int source = tokens - history + j;
            float* input = source >= 0 ? x + (long)source * xStride : state + (long)(history + source) * channels;
            new ReadOnlySpan<float>(input + first, count).CopyTo(new Span<float>(state + (long)j * channels + first, count));
        }
    }

    /// <summary>One sequence's scan over its <paramref name="tokens"/> rows, continuing from <paramref name="state"/> ([N, channels]).</summary>
    public static void Scan(in SelectiveScanRows rows, int tokens, StateSpaceWeights w, float* state, float* y, int first, int count)
    {
        int channels = w.Channels, n = w.StateSize;
        float* a = w.A.Pointer, d = w.D.Pointer;
        Span<float> delta = stackalloc float[count], deltaU = stackalloc float[count], decay = stackalloc float[count], gate = stackalloc float[count];
        for (int t = 0; t < tokens; t++)
        {
            var u = new ReadOnlySpan<float>(rows.U + (long)t * channels + first, count);
            Softplus(new ReadOnlySpan<float>(rows.Dt + (long)t * channels + first, count), delta);
            TensorPrimitives.Multiply(delta, u, deltaU);
            var output = new Span<float>(y + (long)t * channels + first, count);
            TensorPrimitives.Multiply(u, new ReadOnlySpan<float>(d + first, count), output);
            float* b = rows.B + (long)t * rows.BcStride, c = rows.C + (long)t * rows.BcStride;
            for (int i = 0; i < n; i++)
            {
                var s = new Span<float>(state + (long)i * channels + first, count);
                TensorPrimitives.Multiply(delta, new ReadOnlySpan<float>(a + (long)i * channels + first, count), decay);
                TensorPrimitives.Exp(decay, decay);
                TensorPrimitives.Multiply(decay, s, s);
                TensorPrimitives.MultiplyAdd(deltaU, b[i], s, s);
                TensorPrimitives.MultiplyAdd(s, c[i], output, output);
            }
            new ReadOnlySpan<float>(rows.Gate + (long)t * rows.GateStride + first, count).CopyTo(gate);
            Activations.Apply(Activation.Silu, gate);
            TensorPrimitives.Multiply(output, gate, output);
        }
    }

    /// <summary>log(1 + eˣ), and x itself above 20 as torch's softplus (threshold 20) returns it.</summary>
    private static void Softplus(ReadOnlySpan<float> x, Span<float> result)
    {
        for (int i = 0; i < x.Length; i++) result[i] = x[i] > 20f ? x[i] : float.LogP1(MathF.Exp(x[i]));
    }
}

/// <summary>Host pointers of <see cref="SelectiveScanInputs"/>, positioned at one sequence's first row.</summary>
public readonly unsafe struct SelectiveScanRows(float* u, float* dt, float* b, float* c, int bcStride, float* gate, int gateStride)
{
    public readonly float* U = u, Dt = dt, B = b, C = c, Gate = gate;
    public readonly int BcStride = bcStride, GateStride = gateStride;
}
