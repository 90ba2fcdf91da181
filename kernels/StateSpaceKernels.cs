using ILGPU;
using ILGPU.Algorithms;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Shape of one sequence's state-space launch (Mamba's conv or scan).</summary>
public struct StateSpaceDims
{
    /// <summary>The sequence's rows in this call.</summary>
    public int Tokens;
    public int Channels;
    /// <summary>Scan state values per channel (N).</summary>
    public int StateSize;
    /// <summary>Conv taps (K); the conv state holds the K − 1 inputs before the first row.</summary>
    public int Kernel;
    /// <summary>Floats between rows of the conv input (a slice of the in projection).</summary>
    public int InputStride;
    /// <summary>Floats between rows of B and of C (slices of the x projection).</summary>
    public int BcStride;
    /// <summary>Floats between rows of the gate z (the second half of the in projection).</summary>
    public int GateStride;
}

/// <summary>
/// Mamba's causal depthwise conv and selective scan, one thread per channel walking the sequence's rows in order
/// (the recurrence is sequential in time, independent across channels). States are channel-minor ([rows, channels]),
/// so neighbouring threads touch neighbouring floats.
/// </summary>
public static class StateSpaceKernels
{
    /// <summary>
    /// y[t, c] = silu(bias[c] + Σ_k taps[k, c] · x[t − K + 1 + k, c]); inputs before row 0 come from state ([K − 1, channels],
    /// oldest first), which then keeps the last K − 1 inputs. bias may be empty.
    /// </summary>
    public static void Conv(Index1D c, ArrayView<float> x, ArrayView<float> taps, ArrayView<float> bias, ArrayView<float> state,
        ArrayView<float> y, StateSpaceDims dims)
    {
        int channels = dims.Channels, history = dims.Kernel - 1;
        for (int t = 0; t < dims.Tokens; t++)
        {
            float acc = bias.Length > 0 ? bias[c] : 0f;
            for (int tap = 0; tap < dims.Kernel; tap++)
            {
                int source = t - history + tap;
                float v = source >= 0 ? x[(long)source * dims.InputStride + c] : state[(long)(history + source) * channels + c];
                acc += taps[(long)tap * channels + c] * v;
            }
            y[(long)t * channels + c] = acc / (1f + XMath.Exp(-acc));
        }
        // Ascending rows read old row tokens + j (≥ j) before anything overwrites it.
        for (int j = 0; j < history; j++)
        {
            int source = dims.Tokens - history + j;
            state[(long)j * channels + c] = source >= 0 ? x[(long)source * dims.InputStride + c] : state[(long)(history + source) * channels + c];
        }
    }

    /// <summary>
    /// Δ = softplus(dt[t, c]) (threshold 20, as torch), s[n, c] = exp(Δ·A[n, c])·s[n, c] + Δ·u[t, c]·B[t, n],
    /// y[t, c] = (Σ_n s[n, c]·C[t, n] + D[c]·u[t, c]) · silu(z[t, c]); state [N, channels] carries over between calls.
    /// </summary>
    public static void Scan(Index1D c, ArrayView<float> u, ArrayView<float> dt, ArrayView<float> b, ArrayView<float> cIn,
        ArrayView<float> gate, ArrayView<float> a, ArrayView<float> d, ArrayView<float> state, ArrayView<float> y, StateSpaceDims dims)
    {
        int channels = dims.Channels;
        for (int t = 0; t < dims.Tokens; t++)
        {
            long at = (long)t * channels + c;
            float raw = dt[at];
            float delta = raw > 20f ? raw : XMath.Log(1f + XMath.Exp(raw));
            float x = u[at], deltaU = delta * x, acc = x * d[c];
            long bc = (long)t * dims.BcStride;
            for (int n = 0; n < dims.StateSize; n++)
            {
                long si = (long)n * channels + c;
                float s = XMath.Exp(delta * a[si]) * state[si] + deltaU * b[bc + n];
                state[si] = s;
                acc += s * cIn[bc + n];
            }
            float z = gate[(long)t * dims.GateStride + c];
            y[at] = acc * (z / (1f + XMath.Exp(-z)));
        }
    }
}
