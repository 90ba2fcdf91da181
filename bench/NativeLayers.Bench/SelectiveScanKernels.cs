using BenchmarkDotNet.Attributes;
using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.ModelGen;

namespace NativeLayers.Bench;

/// <summary>
/// Mamba's selective scan alone on the CPU backend, Mamba-130M's shape (1536 channels, state 16), over all 24 layers'
/// recurrent states of one sequence: Tokens = 1 is a decode step, 128 a prefill chunk. Reported against the memory
/// traffic it cannot avoid (<see cref="TrafficBytes"/>) and against the exponentials it must evaluate.
/// </summary>
[Config(typeof(BenchConfig))]
public class SelectiveScanKernels
{
    public static readonly ModelSpec Spec = ModelSpec.Preset("mamba-130m");

    private CpuBackend _backend = null!;
    private RecurrentState _state = null!;
    private StateSpaceWeights _weights = null!;
    private BackendBuffer _u = null!, _dt = null!, _bc = null!, _gate = null!, _y = null!;
    private ForwardBatch _batch = null!;

    [Params(1, 128)] public int Tokens { get; set; }

    private static int Channels => Spec.Intermediate;
    private static int State => Spec.StateSize;
    private static int BcStride => Spec.TimeStepRank + 2 * State;

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend();
        var random = new Random(5);
        PinnedBuffer Values(int n, double low, double high) =>
            new(Enumerable.Range(0, n).Select(_ => (float)(low + random.NextDouble() * (high - low))).ToArray());
        _weights = new StateSpaceWeights(Values(Spec.ConvKernel * Channels, -0.5, 0.5), Values(Channels, -0.1, 0.1), Spec.ConvKernel,
            Values(State * Channels, -16, -1), Values(Channels, 0.5, 1.5), State);
        _state = new RecurrentState(_backend, Spec.Layers, _weights);
        BackendBuffer Buffer(int n, double low, double high)
        {
            var buffer = _backend.Allocate(n);
            _backend.Upload(Values(n, low, high).Span, buffer);
            return buffer;
        }
        _u = Buffer(Tokens * Channels, -1, 1);
        _dt = Buffer(Tokens * Channels, -4, 1);
        _bc = Buffer(Tokens * BcStride, -1, 1);
        _gate = Buffer(Tokens * Channels, -2, 2);
        _y = _backend.Allocate(Tokens * Channels);
        _batch = new ForwardBatch([new SequenceRows(0, Tokens, 0)], [_state]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _state.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public void ScanEveryLayer()
    {
        var inputs = new SelectiveScanInputs(_u, _dt, new BufferView(_bc, Spec.TimeStepRank), new BufferView(_bc, Spec.TimeStepRank + State), BcStride, _gate, Channels);
        for (int layer = 0; layer < Spec.Layers; layer++) _backend.SelectiveScan(_batch, layer, inputs, _weights, _y);
    }

    /// <summary>
    /// Bytes every layer must move: u, Δ, z in and y out ([T, channels] each), B and C, the state read and written, A and D.
    /// </summary>
    public static double TrafficBytes(int tokens) =>
        4.0 * Spec.Layers * (4.0 * tokens * Channels + 2.0 * tokens * State + 3.0 * State * Channels + Channels);

    /// <summary>exp(Δ·A) per (token, channel, state) and the two SiLU/softplus exponentials per (token, channel).</summary>
    public static double Exponentials(int tokens) => (double)Spec.Layers * tokens * Channels * (State + 2);
}
