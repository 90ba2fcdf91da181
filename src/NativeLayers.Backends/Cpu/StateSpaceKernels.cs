using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// Mamba's causal conv and selective scan over a block of channels [first, first + count): the loops run along the
/// channels (the layouts are channel-minor), so the exponentials and multiply-adds are vectorised, and the scan takes
/// eight channels through all of a sequence's tokens while their state stays in L1.
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
        int c = first, end = first + count;
        for (; c + Vector256<float>.Count <= end; c += Vector256<float>.Count) ScanLanes(rows, tokens, w, state, y, c);
        for (; c < end; c++) ScanChannel(rows, tokens, w, state, y, c);
    }

    /// <summary>
    /// Eight channels at once through every token: their N state rows (8 floats each) stay in L1 while the tokens pass,
    /// so the exponentials, not memory, set the pace.
    /// </summary>
    private static void ScanLanes(in SelectiveScanRows rows, int tokens, StateSpaceWeights w, float* state, float* y, int c)
    {
        int channels = w.Channels, n = w.StateSize;
        float* a = w.A.Pointer + c, s = state + c;
        var d = Vector256.Load(w.D.Pointer + c);
        var one = Vector256.Create(1f);
        var threshold = Vector256.Create(20f);
        for (int t = 0; t < tokens; t++)
        {
            long at = (long)t * channels + c;
            var raw = Vector256.Load(rows.Dt + at);
            var delta = Vector256.ConditionalSelect(Vector256.GreaterThan(raw, threshold), raw, Vector256.Log(one + Vector256.Exp(raw)));
            var u = Vector256.Load(rows.U + at);
            var deltaU = delta * u;
            var acc = u * d;
            float* b = rows.B + (long)t * rows.BcStride, cIn = rows.C + (long)t * rows.BcStride;
            for (int i = 0; i < n; i++)
            {
                long si = (long)i * channels;
                var next = Vector256.Exp(delta * Vector256.Load(a + si)) * Vector256.Load(s + si) + deltaU * Vector256.Create(b[i]);
                next.Store(s + si);
                acc += next * Vector256.Create(cIn[i]);
            }
            var z = Vector256.Load(rows.Gate + (long)t * rows.GateStride + c);
            (acc * (z / (one + Vector256.Exp(-z)))).Store(y + at);
        }
    }

    /// <summary>The same for one channel (the tail of a block that is not a multiple of eight).</summary>
    private static void ScanChannel(in SelectiveScanRows rows, int tokens, StateSpaceWeights w, float* state, float* y, int c)
    {
        int channels = w.Channels, n = w.StateSize;
        float* a = w.A.Pointer;
        for (int t = 0; t < tokens; t++)
        {
            long at = (long)t * channels + c;
            float raw = rows.Dt[at], delta = raw > 20f ? raw : float.LogP1(MathF.Exp(raw)), u = rows.U[at], deltaU = delta * u, acc = u * w.D.Pointer[c];
            float* b = rows.B + (long)t * rows.BcStride, cIn = rows.C + (long)t * rows.BcStride;
            for (int i = 0; i < n; i++)
            {
                long si = (long)i * channels + c;
                float next = MathF.Exp(delta * a[si]) * state[si] + deltaU * b[i];
                state[si] = next;
                acc += next * cIn[i];
            }
            float z = rows.Gate[(long)t * rows.GateStride + c];
            y[at] = acc * (z / (1f + MathF.Exp(-z)));
        }
    }
}

/// <summary>Host pointers of <see cref="SelectiveScanInputs"/>, positioned at one sequence's first row.</summary>
public readonly unsafe struct SelectiveScanRows(float* u, float* dt, float* b, float* c, int bcStride, float* gate, int gateStride)
{
    public readonly float* U = u, Dt = dt, B = b, C = c, Gate = gate;
    public readonly int BcStride = bcStride, GateStride = gateStride;
}
