namespace NativeLayers.Backends;

/// <summary>
/// One Mamba layer's parameters that the conv and scan ops read besides activations, laid out channel-minor so both
/// backends stream over channels: conv taps [kernel, channels] (tap k multiplies the input k − kernel + 1 steps back),
/// A = −exp(A_log) as [state, channels], and the skip weights D [channels].
/// </summary>
public sealed record StateSpaceWeights(PinnedBuffer ConvTaps, PinnedBuffer? ConvBias, int Kernel, PinnedBuffer A, PinnedBuffer D, int StateSize)
{
    public int Channels => D.Length;
}

/// <summary>
/// The per-row inputs of a selective scan: u (the conv output) and Δ before its softplus, dense [rows, channels]; B and C
/// ([rows, state] each, rows <see cref="BcStride"/> apart: slices of the x projection); the gate z (rows
/// <see cref="GateStride"/> apart: the second half of the in projection).
/// </summary>
public readonly record struct SelectiveScanInputs(BufferView U, BufferView Dt, BufferView B, BufferView C, int BcStride, BufferView Gate, int GateStride);

/// <summary>
/// One sequence's recurrent state for every layer of a state-space model, the counterpart of a KV cache: the conv's
/// last kernel − 1 inputs [kernel − 1, channels] and the scan's state [state, channels]. Its size does not grow with
/// the sequence; a new one is all zeros, as Mamba starts.
/// </summary>
public sealed class RecurrentState : KvCache
{
    private readonly BackendBuffer[] _conv, _scan;

    public RecurrentState(IComputeBackend backend, int layers, StateSpaceWeights shape)
    {
        long convLength = (long)(shape.Kernel - 1) * shape.Channels, scanLength = (long)shape.StateSize * shape.Channels;
        _conv = new BackendBuffer[layers];
        _scan = new BackendBuffer[layers];
        for (int l = 0; l < layers; l++)
        {
            _conv[l] = backend.Allocate(convLength);
            _scan[l] = backend.Allocate(scanLength);
            backend.Clear(_conv[l], convLength);
            backend.Clear(_scan[l], scanLength);
        }
    }

    public BackendBuffer Conv(int layer) => _conv[layer];
    public BackendBuffer Scan(int layer) => _scan[layer];

    public override int Capacity => int.MaxValue;
    public override void EnsureCapacity(int positions) { }

    public override void Dispose()
    {
        foreach (var buffer in _conv.Concat(_scan)) buffer.Dispose();
    }
}
