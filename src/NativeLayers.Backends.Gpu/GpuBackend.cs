using ILGPU;
using ILGPU.Runtime;
using NativeLayers.Backends.Gpu.Kernels;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Gpu;

/// <summary>
/// The ILGPU provider of the forward-pass ops (CUDA, or ILGPU's CPU accelerator for tests): weights are uploaded once
/// in their stored dtype on first use, KV caches and scratch live on the device, and per-call index tables (ids,
/// positions, rows) are uploaded as the ops need them.
/// </summary>
public sealed class GpuBackend : IComputeBackend
{
    private sealed record DeviceNorm(MemoryBuffer1D<float, Stride1D.Dense> Weight, MemoryBuffer1D<float, Stride1D.Dense>? Bias);

    private readonly GpuDevice _gpu;
    private readonly Dictionary<(nint Data, int Rows), GpuMatrix> _matrices = new();
    private readonly Dictionary<PinnedBuffer, MemoryBuffer1D<float, Stride1D.Dense>> _vectors = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, MemoryBuffer1D<int, Stride1D.Dense>> _ints = new();
    private readonly Dictionary<string, MemoryBuffer1D<float, Stride1D.Dense>> _floats = new();
    private readonly Dictionary<RopeTable, (int Positions, MemoryBuffer1D<float, Stride1D.Dense> Cos, MemoryBuffer1D<float, Stride1D.Dense> Sin)> _rope =
        new(ReferenceEqualityComparer.Instance);
    private ForwardBatch? _positionsFor;
    private ArrayView<int> _positions;

    public GpuBackend(DeviceKind kind)
    {
        _gpu = new GpuDevice(kind);
    }

    /// <summary>True when a CUDA device and driver are usable.</summary>
    public static bool CudaAvailable => GpuDevice.CudaAvailable;

    /// <summary>auto → cuda when a GPU is present, else cpu; every other kind as it is.</summary>
    public static DeviceKind Resolve(DeviceKind kind) => kind == DeviceKind.Auto ? (CudaAvailable ? DeviceKind.Cuda : DeviceKind.Cpu) : kind;

    public GpuDevice Device => _gpu;
    public DeviceKind Kind => _gpu.Kind;
    public int Threads => 1;
    public ConstantCache Constants { get; } = new();

    // ---------------------------------------------------------------- memory

    public BackendBuffer Allocate(long length) => new GpuBuffer(_gpu.Allocate<float>(Math.Max(1, length)));
    public BackendBuffer? WrapHost(PinnedBuffer host) => null;

    public void Upload(ReadOnlySpan<float> source, BufferView destination)
    {
        if (source.Length == 0) return;
        _gpu.Synchronize();
        GpuBuffer.View(destination, source.Length).CopyFromCPU(source);
    }

    public void Download(BufferView source, Span<float> destination)
    {
        if (destination.Length == 0) return;
        _gpu.Synchronize();
        GpuBuffer.View(source, destination.Length).CopyToCPU(destination);
    }

    public KvCache CreateKvCache(int layers, int width, int expectedPositions) => new GpuKvCache(_gpu, layers, width, expectedPositions);

    private unsafe GpuMatrix Matrix(WeightMatrix m)
    {
        if (!_matrices.TryGetValue(((nint)m.Data, m.Rows), out var matrix))
            _matrices[((nint)m.Data, m.Rows)] = matrix = _gpu.UploadMatrix(new ReadOnlySpan<byte>(m.Data, checked((int)m.ByteLength)), m.DType, m.Rows, m.Cols);
        return matrix;
    }

    private ArrayView<float> Vector(PinnedBuffer values)
    {
        if (!_vectors.TryGetValue(values, out var buffer)) _vectors[values] = buffer = _gpu.Upload<float>(values.Span);
        return buffer.View;
    }

    private ArrayView<int> Ints(string name, ReadOnlySpan<int> values)
    {
        if (!_ints.TryGetValue(name, out var b) || b.Length < values.Length)
        {
            b?.Dispose();
            _ints[name] = b = _gpu.Allocate<int>(Math.Max(1, values.Length));
        }
        var view = b.View.AsContiguous().SubView(0, values.Length);
        _gpu.Synchronize(); // the previous launch reading this table is done before it is overwritten
        if (values.Length > 0) view.CopyFromCPU(values);
        return view;
    }

    private ArrayView<float> Floats(string name, ReadOnlySpan<float> values)
    {
        var view = Scratch(name, values.Length);
        _gpu.Synchronize();
        if (values.Length > 0) view.SubView(0, values.Length).CopyFromCPU(values);
        return view;
    }

    private ArrayView<float> Scratch(string name, long length)
    {
        if (!_floats.TryGetValue(name, out var b) || b.Length < length)
        {
            b?.Dispose();
            _floats[name] = b = _gpu.Allocate<float>(Math.Max(1, length));
        }
        return b.View.AsContiguous().SubView(0, Math.Max(1, length));
    }

    private ArrayView<int> Positions(ForwardBatch batch)
    {
        if (!ReferenceEquals(_positionsFor, batch))
        {
            _positions = Ints("positions", batch.Positions);
            _positionsFor = batch;
        }
        return _positions;
    }

    private static ResidualDims Dims(int rows, int width, int entries) =>
        new() { Rows = rows, Width = width, TargetStride = width, ResidualStride = width, DeltaStride = width, EntriesPerRow = entries };

    // ---------------------------------------------------------------- ops

    public void Gather(WeightMatrix table, ReadOnlySpan<int> ids, BufferView output, float scale, bool accumulate)
    {
        var idView = Ints("ids", ids);
        int width = table.Cols;
        if (!accumulate)
        {
            _gpu.Embed(idView, Matrix(table), GpuBuffer.View(output), width, scale);
            return;
        }
        var extra = Scratch("gather_extra", (long)ids.Length * width);
        _gpu.Embed(idView, Matrix(table), extra, width, scale);
        _gpu.ResidualAdd(GpuBuffer.View(output), GpuBuffer.View(output), extra, default, default, default, Dims(ids.Length, width, 0));
    }

    public void Norm(NormKind kind, NormWeights weights, float eps, BufferView x, BufferView y, int rows, int width, int stride = 0)
    {
        int s = stride > 0 ? stride : width;
        if (kind == NormKind.RmsNorm) _gpu.RmsNorm(GpuBuffer.View(x), s, GpuBuffer.View(y), s, rows, width, Vector(weights.Weight), eps);
        else _gpu.LayerNorm(GpuBuffer.View(x), s, GpuBuffer.View(y), s, rows, width, Vector(weights.Weight),
            weights.Bias is { } b ? Vector(b) : default, eps);
    }

    public void Linear(Linear layer, BufferView x, int xStride, int rows, BufferView y, int yStride, bool accumulate, BackendBuffer? bias = null)
    {
        var biasView = bias != null ? GpuBuffer.View(bias) : layer.Bias is { } b ? Vector(b) : default;
        int offset = 0;
        foreach (var part in layer.Parts)
        {
            var partBias = biasView.Length > 0 ? biasView.SubView(offset, part.Rows) : default;
            _gpu.MatMul(GpuBuffer.View(x), xStride, rows, Matrix(part), partBias, GpuBuffer.View(y.At(offset)), yStride, accumulate);
            offset += part.Rows;
        }
    }

    public void RotateAndAppend(ForwardBatch batch, int layer, BufferView qkv, AttentionShape shape, int rotaryDim, RopeTable? rope)
    {
        var rows = GpuBuffer.View(qkv);
        int stride = shape.QkvStride;
        if (rope != null)
        {
            var (cos, sin) = RopeTables(rope);
            var positions = Positions(batch);
            _gpu.Rope(rows, positions, cos, sin, new RopeDims { Rows = batch.Rows, Heads = shape.Heads, HeadDim = shape.HeadDim, RotaryDim = rotaryDim, RowStride = stride, RowOffset = 0 });
            _gpu.Rope(rows, positions, cos, sin, new RopeDims { Rows = batch.Rows, Heads = shape.KvHeads, HeadDim = shape.HeadDim, RotaryDim = rotaryDim, RowStride = stride, RowOffset = shape.QueryWidth });
        }
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            if (seq.Count == 0) continue;
            var cache = (GpuKvCache)batch.Caches[s];
            var rowList = Ints("kv_rows", Enumerable.Range(seq.FirstRow, seq.Count).ToArray());
            long at = (long)seq.FirstPosition * shape.KvStride;
            _gpu.CaptureRows(rows.SubView(shape.QueryWidth), stride, shape.KvStride, rowList, cache.Keys(layer), at);
            _gpu.CaptureRows(rows.SubView(shape.QueryWidth + shape.KvStride), stride, shape.KvStride, rowList, cache.Values(layer), at);
        }
    }

    /// <summary>The device copy of a rotary table (one per table: local and global layers may use different bases).</summary>
    private (ArrayView<float> Cos, ArrayView<float> Sin) RopeTables(RopeTable rope)
    {
        if (!_rope.TryGetValue(rope, out var uploaded) || uploaded.Positions < rope.Positions)
        {
            uploaded.Cos?.Dispose();
            uploaded.Sin?.Dispose();
            _rope[rope] = uploaded = (rope.Positions, _gpu.Upload(rope.CosTable), _gpu.Upload(rope.SinTable));
        }
        return (uploaded.Cos.View, uploaded.Sin.View);
    }

    public void Attention(ForwardBatch batch, int layer, BufferView qkv, AttentionShape shape, BufferView output)
    {
        var dims = new AttentionDims
        {
            Heads = shape.Heads, KvHeads = shape.KvHeads, HeadDim = shape.HeadDim,
            QStride = shape.QkvStride, OutStride = shape.QueryWidth, KvStride = shape.KvStride, QOffset = 0, OutOffset = 0, KvOffset = 0,
            Scale = shape.Scale, Causal = shape.Causal ? 1 : 0, Window = shape.SlidingWindow ?? -1, SoftCap = shape.SoftCap,
        };
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            if (seq.Count == 0) continue;
            var cache = (GpuKvCache)batch.Caches[s];
            var descriptor = Ints("attention_sequence", [seq.FirstRow, seq.Count, seq.FirstPosition, 0]);
            _gpu.Attention(GpuBuffer.View(qkv), cache.Keys(layer), cache.Values(layer), GpuBuffer.View(output), descriptor, 1, seq.Count, dims);
        }
    }

    public void Activate(Activation activation, BufferView values, int stride, int rows, int width) =>
        _gpu.Activate(activation, GpuBuffer.View(values), stride, rows, width);

    public void ActivateGated(Activation activation, BufferView fused, BufferView output, int rows, int width)
    {
        var gate = GpuBuffer.View(fused);
        _gpu.ActivateGated(activation, gate, 2 * width, gate.SubView(width), 2 * width, GpuBuffer.View(output), width, rows, width);
    }

    public void ResidualAdd(BufferView target, BufferView residual, BufferView? delta, RowSteering? steering, int rows, int width)
    {
        var deltaView = delta is { } d ? GpuBuffer.View(d) : default;
        if (steering == null)
        {
            _gpu.ResidualAdd(GpuBuffer.View(target), GpuBuffer.View(residual), deltaView, default, default, default, Dims(rows, width, 0));
            return;
        }
        _gpu.ResidualAdd(GpuBuffer.View(target), GpuBuffer.View(residual), deltaView, Ints("steer_index", steering.Indices),
            Floats("steer_coef", steering.Coefficients), Floats("steer_table", steering.Vectors), Dims(rows, width, steering.Entries));
    }

    public void ProjectOut(BufferView x, int width, ReadOnlySpan<float> direction, ReadOnlySpan<int> rows)
    {
        if (rows.Length == 0) return;
        int last = 0;
        foreach (int r in rows) last = Math.Max(last, r);
        var rowDirection = new int[last + 1];
        Array.Fill(rowDirection, -1);
        foreach (int r in rows) rowDirection[r] = 0;
        _gpu.ProjectOut(GpuBuffer.View(x), width, rowDirection.Length, width, Floats("ablate_direction", direction), Ints("ablate_rows", rowDirection));
    }

    public void GatherRows(BufferView source, int width, ReadOnlySpan<int> rows, BufferView destination) =>
        _gpu.CaptureRows(GpuBuffer.View(source), width, width, Ints("gather_rows", rows), GpuBuffer.View(destination));

    public void ScatterAddRows(BufferView source, int width, ReadOnlySpan<int> rows, ReadOnlySpan<float> weights, BufferView target) =>
        _gpu.ScatterAddRows(GpuBuffer.View(source), Ints("scatter_rows", rows), Floats("scatter_weights", weights), GpuBuffer.View(target), width);

    public void Clear(BufferView values, long length) => _gpu.Clear(GpuBuffer.View(values, length));

    public void CausalConv1d(ForwardBatch batch, int layer, BufferView x, int xStride, StateSpaceWeights weights, BufferView y)
    {
        var bias = weights.ConvBias is { } b ? Vector(b) : default;
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            if (seq.Count == 0) continue;
            var dims = StateSpace(weights, seq.Count) with { InputStride = xStride };
            _gpu.CausalConv1d(GpuBuffer.View(x.At((long)seq.FirstRow * xStride)), Vector(weights.ConvTaps), bias,
                GpuBuffer.View(((RecurrentState)batch.Caches[s]).Conv(layer)), GpuBuffer.View(y.At((long)seq.FirstRow * weights.Channels)), dims);
        }
    }

    public void SelectiveScan(ForwardBatch batch, int layer, SelectiveScanInputs inputs, StateSpaceWeights weights, BufferView y)
    {
        int channels = weights.Channels;
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            if (seq.Count == 0) continue;
            long row = seq.FirstRow;
            var dims = StateSpace(weights, seq.Count) with { BcStride = inputs.BcStride, GateStride = inputs.GateStride };
            _gpu.SelectiveScan(GpuBuffer.View(inputs.U.At(row * channels)), GpuBuffer.View(inputs.Dt.At(row * channels)),
                GpuBuffer.View(inputs.B.At(row * inputs.BcStride)), GpuBuffer.View(inputs.C.At(row * inputs.BcStride)),
                GpuBuffer.View(inputs.Gate.At(row * inputs.GateStride)), Vector(weights.A), Vector(weights.D),
                GpuBuffer.View(((RecurrentState)batch.Caches[s]).Scan(layer)), GpuBuffer.View(y.At(row * channels)), dims);
        }
    }

    private static StateSpaceDims StateSpace(StateSpaceWeights weights, int tokens) =>
        new() { Tokens = tokens, Channels = weights.Channels, StateSize = weights.StateSize, Kernel = weights.Kernel };

    public void Dispose()
    {
        Constants.Dispose();
        foreach (var b in _ints.Values) b.Dispose();
        foreach (var b in _floats.Values) b.Dispose();
        foreach (var m in _matrices.Values) m.Dispose();
        foreach (var v in _vectors.Values) v.Dispose();
        foreach (var (_, cos, sin) in _rope.Values)
        {
            cos.Dispose();
            sin.Dispose();
        }
        _gpu.Dispose();
    }
}
