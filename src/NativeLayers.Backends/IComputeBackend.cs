using NativeLayers.Loading;

namespace NativeLayers.Backends;

/// <summary>
/// The ops the forward pass is written in. The driver (NativeLayers.Runtime's ForwardPass) runs every architecture,
/// hook, capture and steering operation through these and nothing else, so a backend implements them and inherits
/// the rest. Buffers are [rows, width] row-major float32 unless a stride says otherwise; inputs are validated by the
/// driver (ids in range, shapes consistent) before they reach an op. Calls are made from one thread at a time.
/// </summary>
public interface IComputeBackend : IDisposable
{
    DeviceKind Kind { get; }
    /// <summary>Host threads the backend computes with (CPU) or drives the device with.</summary>
    int Threads { get; }

    // ---------------------------------------------------------------- memory

    BackendBuffer Allocate(long length);
    /// <summary>
    /// The backend buffer over <paramref name="host"/> itself when this backend computes in host memory (no copy;
    /// what the ops write is what the host reads), or null when it computes elsewhere.
    /// </summary>
    BackendBuffer? WrapHost(PinnedBuffer host);
    void Upload(ReadOnlySpan<float> source, BufferView destination);
    void Download(BufferView source, Span<float> destination);
    /// <summary>Buffers built once per owner and version (folded steering biases).</summary>
    ConstantCache Constants { get; }
    KvCache CreateKvCache(int layers, int width, int expectedPositions);

    // ---------------------------------------------------------------- ops

    /// <summary>output[t, :] (+)= scale · table[ids[t], :] for every t (ids already checked to be in range).</summary>
    void Gather(WeightMatrix table, ReadOnlySpan<int> ids, BufferView output, float scale, bool accumulate);

    /// <summary>
    /// y[r] = norm(x[r]) over <paramref name="width"/> values per row (RMSNorm or LayerNorm); rows are
    /// <paramref name="stride"/> floats apart in x and y (0 = width: dense; larger: one head of fused q/k rows); y may alias x.
    /// </summary>
    void Norm(NormKind kind, NormWeights weights, float eps, BufferView x, BufferView y, int rows, int width, int stride = 0);

    /// <summary>
    /// y[t, :OutFeatures] (+)= x[t, :InFeatures] · Wᵀ + b, with b = <paramref name="bias"/> when given (a folded bias
    /// of OutFeatures values), else the layer's own.
    /// </summary>
    void Linear(Linear layer, BufferView x, int xStride, int rows, BufferView y, int yStride, bool accumulate, BackendBuffer? bias = null);

    /// <summary>
    /// Rotates q and k of fused [q | k | v] rows in place (rotate_half over the first <paramref name="rotaryDim"/>
    /// dims of each head; none when <paramref name="rope"/> is null) and appends k and v at each row's position to
    /// its sequence's cache for <paramref name="layer"/>.
    /// </summary>
    void RotateAndAppend(ForwardBatch batch, int layer, BufferView qkv, AttentionShape shape, int rotaryDim, RopeTable? rope);

    /// <summary>output[r, :Heads·HeadDim] = attention of row r's query over its sequence's cached keys and values.</summary>
    void Attention(ForwardBatch batch, int layer, BufferView qkv, AttentionShape shape, BufferView output);

    /// <summary>values[r, :width] = act(values[r, :width]) in place, rows <paramref name="stride"/> apart (SoLU: x · softmax(x)).</summary>
    void Activate(Activation activation, BufferView values, int stride, int rows, int width);

    /// <summary>output[r, :width] = act(gate) · up, where row r of <paramref name="fused"/> is [gate (width) | up (width)].</summary>
    void ActivateGated(Activation activation, BufferView fused, BufferView output, int rows, int width);

    /// <summary>
    /// target[r] = residual[r] (+ delta[r]) (+ the steering table's additions of row r); target may alias residual.
    /// With neither delta nor steering it copies.
    /// </summary>
    void ResidualAdd(BufferView target, BufferView residual, BufferView? delta, RowSteering? steering, int rows, int width);

    /// <summary>x[r] −= (x[r]·u / u·u) u for each listed row r.</summary>
    void ProjectOut(BufferView x, int width, ReadOnlySpan<float> direction, ReadOnlySpan<int> rows);

    /// <summary>destination[i] = source[rows[i]] for i &lt; rows.Length (rows of <paramref name="width"/> values).</summary>
    void GatherRows(BufferView source, int width, ReadOnlySpan<int> rows, BufferView destination);

    /// <summary>target[rows[i]] += weights[i] · source[i] for i &lt; rows.Length (distinct target rows; an expert's output joining its tokens).</summary>
    void ScatterAddRows(BufferView source, int width, ReadOnlySpan<int> rows, ReadOnlySpan<float> weights, BufferView target);

    /// <summary>Sets <paramref name="length"/> values to zero.</summary>
    void Clear(BufferView values, long length);

    // ---------------------------------------------------------------- state-space (Mamba)

    /// <summary>
    /// y[t, c] = silu(bias[c] + Σ_k taps[k, c] · x[t − K + 1 + k, c]) along each sequence's rows (x rows
    /// <paramref name="xStride"/> apart, y dense [rows, channels]); the inputs before a sequence's rows come from its
    /// <see cref="RecurrentState"/> at <paramref name="layer"/>, which then keeps its last K − 1 inputs.
    /// </summary>
    void CausalConv1d(ForwardBatch batch, int layer, BufferView x, int xStride, StateSpaceWeights weights, BufferView y);

    /// <summary>
    /// Mamba's selective scan along each sequence's rows, continuing from its <see cref="RecurrentState"/> at
    /// <paramref name="layer"/>: per channel c and state n, Δ = softplus(dt[t, c]), s[n, c] = exp(Δ · A[n, c]) · s[n, c] +
    /// Δ · B[t, n] · u[t, c], then y[t, c] = (Σ_n s[n, c] · C[t, n] + D[c] · u[t, c]) · silu(z[t, c]) (y dense [rows, channels]).
    /// </summary>
    void SelectiveScan(ForwardBatch batch, int layer, SelectiveScanInputs inputs, StateSpaceWeights weights, BufferView y);
}
