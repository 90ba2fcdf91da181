using NativeLayers.Backends;

namespace NativeLayers.Tests;

/// <summary>
/// Mamba's two ops on every backend against a float64 reference of their definitions (torch's slow path): sequences
/// of different lengths in one batch, strided inputs, and prompts fed in pieces (shorter than the conv's history too),
/// which must equal one pass over the whole sequence through the recurrent state.
/// </summary>
public sealed class StateSpaceOpTests
{
    private const int Channels = 70, Kernel = 4, State = 5, XStride = 2 * Channels + 3, BcStride = 2 * State + 4, GateStride = Channels + 9;
    private static readonly int[] Lengths = [6, 2, 5];
    /// <summary>How many tokens of each sequence the first call takes; the second call takes the rest.</summary>
    private static readonly int[] FirstPiece = [2, 1, 5];

    private static IComputeBackend Create(string device) => TestBackends.Create(device);

    private static float[] Random(Random random, int n, double low = -1, double high = 1) =>
        Enumerable.Range(0, n).Select(_ => (float)(low + random.NextDouble() * (high - low))).ToArray();

    private sealed record Inputs(float[][] X, float[][] Dt, float[][] Bc, float[][] Gate, StateSpaceWeights Weights);

    private static Inputs Make(int seed)
    {
        var random = new Random(seed);
        var weights = new StateSpaceWeights(new PinnedBuffer(Random(random, Kernel * Channels)), new PinnedBuffer(Random(random, Channels)), Kernel,
            new PinnedBuffer(Random(random, State * Channels, -2, -0.05)), new PinnedBuffer(Random(random, Channels)), State);
        // Δ before softplus spans both sides of torch's threshold of 20.
        float[] Dt(int n) => Random(random, n * Channels, -4, 3).Select((v, i) => i % 97 == 0 ? 21f + v : v).ToArray();
        return new Inputs(
            Lengths.Select(n => Random(random, n * XStride)).ToArray(),
            Lengths.Select(Dt).ToArray(),
            Lengths.Select(n => Random(random, n * BcStride)).ToArray(),
            Lengths.Select(n => Random(random, n * GateStride)).ToArray(),
            weights);
    }

    private static double Silu(double x) => x / (1 + Math.Exp(-x));

    private static double[] ReferenceConv(float[] x, int tokens, StateSpaceWeights w)
    {
        var y = new double[tokens * Channels];
        for (int t = 0; t < tokens; t++)
            for (int c = 0; c < Channels; c++)
            {
                double acc = w.ConvBias!.Span[c];
                for (int k = 0; k < Kernel; k++)
                {
                    int source = t - Kernel + 1 + k;
                    if (source >= 0) acc += (double)w.ConvTaps.Span[k * Channels + c] * x[source * XStride + c];
                }
                y[t * Channels + c] = Silu(acc);
            }
        return y;
    }

    private static double[] ReferenceScan(double[] u, float[] dt, float[] bc, float[] gate, int tokens, StateSpaceWeights w)
    {
        var s = new double[State * Channels];
        var y = new double[tokens * Channels];
        for (int t = 0; t < tokens; t++)
            for (int c = 0; c < Channels; c++)
            {
                double raw = dt[t * Channels + c], delta = raw > 20 ? raw : Math.Log(1 + Math.Exp(raw)), acc = u[t * Channels + c] * w.D.Span[c];
                for (int n = 0; n < State; n++)
                {
                    int i = n * Channels + c;
                    s[i] = Math.Exp(delta * w.A.Span[i]) * s[i] + delta * u[t * Channels + c] * bc[t * BcStride + n];
                    acc += s[i] * bc[t * BcStride + State + n];
                }
                y[t * Channels + c] = acc * Silu(gate[t * GateStride + c]);
            }
        return y;
    }

    /// <summary>Rows [from, from + count) of each sequence's host rows, back to back.</summary>
    private static float[] Piece(float[][] perSequence, int stride, int[] from, int[] count) =>
        perSequence.SelectMany((rows, s) => rows.Skip(from[s] * stride).Take(count[s] * stride)).ToArray();

    private static ForwardBatch Batch(int[] counts, int[] positions, KvCache[] states)
    {
        var rows = new List<SequenceRows>();
        int next = 0;
        for (int s = 0; s < counts.Length; s++)
        {
            rows.Add(new SequenceRows(next, counts[s], positions[s]));
            next += counts[s];
        }
        return new ForwardBatch(rows, states);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void ConvAndScanMatchAFloat64ReferenceAcrossPiecesOfASequence(string device)
    {
        using var backend = Create(device);
        var inputs = Make(11);
        var w = inputs.Weights;
        var states = Lengths.Select(_ => (KvCache)new RecurrentState(backend, layers: 2, w)).ToArray();
        int[] second = Lengths.Zip(FirstPiece, (n, f) => n - f).ToArray();
        var convOut = Lengths.Select(n => new List<float>()).ToArray();
        var scanOut = Lengths.Select(n => new List<float>()).ToArray();

        foreach (var (from, count) in new[] { (new int[Lengths.Length], FirstPiece), (FirstPiece, second) })
        {
            var batch = Batch(count, from, states);
            int rows = batch.Rows;
            using var x = Upload(backend, Piece(inputs.X, XStride, from, count));
            using var u = backend.Allocate(rows * Channels);
            backend.CausalConv1d(batch, 1, x, XStride, w, u);
            using var dt = Upload(backend, Piece(inputs.Dt, Channels, from, count));
            using var bc = Upload(backend, Piece(inputs.Bc, BcStride, from, count));
            using var gate = Upload(backend, Piece(inputs.Gate, GateStride, from, count));
            using var y = backend.Allocate(rows * Channels);
            backend.SelectiveScan(batch, 1, new SelectiveScanInputs(u, dt, new BufferView(bc), new BufferView(bc, State), BcStride, gate, GateStride), w, y);
            var hostU = Download(backend, u, rows * Channels);
            var hostY = Download(backend, y, rows * Channels);
            for (int s = 0; s < Lengths.Length; s++)
            {
                convOut[s].AddRange(hostU.Skip(batch.Sequences[s].FirstRow * Channels).Take(count[s] * Channels));
                scanOut[s].AddRange(hostY.Skip(batch.Sequences[s].FirstRow * Channels).Take(count[s] * Channels));
            }
        }

        for (int s = 0; s < Lengths.Length; s++)
        {
            var conv = ReferenceConv(inputs.X[s], Lengths[s], w);
            SharedData.AssertClose(conv.Select(v => (float)v).ToArray(), convOut[s].ToArray(), $"{device} conv of sequence {s}", 1e-5f, 1e-5f);
            var scan = ReferenceScan(convOut[s].Select(v => (double)v).ToArray(), inputs.Dt[s], inputs.Bc[s], inputs.Gate[s], Lengths[s], w);
            SharedData.AssertClose(scan.Select(v => (float)v).ToArray(), scanOut[s].ToArray(), $"{device} scan of sequence {s}", 2e-5f, 2e-5f);
        }
        foreach (var state in states) state.Dispose();
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void ANewRecurrentStateIsZeroAndLayersKeepTheirOwn(string device)
    {
        using var backend = Create(device);
        var w = Make(12).Weights;
        using var state = new RecurrentState(backend, layers: 3, w);
        var x = Upload(backend, Enumerable.Repeat(1f, XStride).ToArray());
        using var y = backend.Allocate(Channels);
        var batch = Batch([1], [0], [state]);
        backend.CausalConv1d(batch, 2, x, XStride, w, y);
        Assert.All(Download(backend, state.Conv(0), (Kernel - 1) * Channels), v => Assert.Equal(0f, v));
        var last = Download(backend, state.Conv(2), (Kernel - 1) * Channels);
        Assert.All(last.Take((Kernel - 2) * Channels), v => Assert.Equal(0f, v));
        Assert.All(last.Skip((Kernel - 2) * Channels), v => Assert.Equal(1f, v));
        Assert.All(Download(backend, state.Scan(1), State * Channels), v => Assert.Equal(0f, v));
        x.Dispose();
    }

    private static BackendBuffer Upload(IComputeBackend backend, float[] values) => TestBackends.Put(backend, values);

    private static float[] Download(IComputeBackend backend, BufferView view, int length) => TestBackends.Get(backend, view, length);
}
