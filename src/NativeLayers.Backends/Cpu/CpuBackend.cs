using System.Numerics.Tensors;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// The SIMD CPU provider of the forward-pass ops: buffers are pinned host memory (so the residual stream the driver
/// computes in is the one the caller reads), weights are read in place from the mapped files, and work is split over
/// a spinning worker pool.
/// </summary>
public sealed unsafe class CpuBackend : IComputeBackend
{
    private const int RowsPerPart = 16;
    private const int MinChannelsPerPart = 64;
    private readonly bool _ownsPool;

    /// <param name="threads">Worker threads; 0 = one per core (the shared pool).</param>
    public CpuBackend(int threads = 0)
    {
        if (threads < 0) throw new NativeLayersException($"threads must be ≥ 0, got {threads}.");
        _ownsPool = threads > 0;
        Pool = _ownsPool ? new WorkerPool(threads) : WorkerPool.Default;
    }

    public WorkerPool Pool { get; }
    public DeviceKind Kind => DeviceKind.Cpu;
    public int Threads => Pool.Threads;
    public ConstantCache Constants { get; } = new();

    public BackendBuffer Allocate(long length) => new CpuBuffer(new PinnedBuffer(checked((int)Math.Max(1, length))));
    public BackendBuffer? WrapHost(PinnedBuffer host) => new CpuBuffer(host);
    public void Upload(ReadOnlySpan<float> source, BufferView destination) => source.CopyTo(CpuBuffer.Span(destination, source.Length));
    public void Download(BufferView source, Span<float> destination) => CpuBuffer.Span(source, destination.Length).CopyTo(destination);
    public KvCache CreateKvCache(int layers, int width, int expectedPositions) => new CpuKvCache(layers, width, expectedPositions);

    public void Gather(WeightMatrix table, ReadOnlySpan<int> ids, BufferView output, float scale, bool accumulate)
    {
        int width = table.Cols;
        var row = accumulate ? new float[width] : null;
        for (int t = 0; t < ids.Length; t++)
        {
            var destination = CpuBuffer.Span(output.At((long)t * width), width);
            if (row == null)
            {
                table.ReadRow(ids[t], destination);
                if (scale != 1f) TensorPrimitives.Multiply(destination, scale, destination);
                continue;
            }
            table.ReadRow(ids[t], row);
            TensorPrimitives.MultiplyAdd(row, scale, destination, destination);
        }
    }

    public void Norm(NormKind kind, NormWeights weights, float eps, BufferView x, BufferView y, int rows, int width, int stride = 0)
    {
        float* input = CpuBuffer.Pointer(x), output = CpuBuffer.Pointer(y);
        float* weight = weights.Weight.Pointer, bias = weights.Bias == null ? null : weights.Bias.Pointer;
        long rowStride = stride > 0 ? stride : width;
        ForRows(rows, r =>
        {
            long offset = r * rowStride;
            if (kind == NormKind.RmsNorm) Norms.RmsNorm(input + offset, width, output + offset, width, 1, width, weight, eps);
            else Norms.LayerNorm(input + offset, width, output + offset, width, 1, width, weight, bias, eps);
        });
    }

    public void Linear(Linear layer, BufferView x, int xStride, int rows, BufferView y, int yStride, bool accumulate, BackendBuffer? bias = null)
    {
        float* b = bias != null ? CpuBuffer.Pointer(bias) : layer.Bias == null ? null : layer.Bias.Pointer;
        float* input = CpuBuffer.Pointer(x), output = CpuBuffer.Pointer(y);
        int offset = 0;
        foreach (var part in layer.Parts)
        {
            MatMul.Run(Pool, input, xStride, rows, part, b == null ? null : b + offset, output + offset, yStride, accumulate);
            offset += part.Rows;
        }
    }

    public void RotateAndAppend(ForwardBatch batch, int layer, BufferView qkv, AttentionShape shape, int rotaryDim, RopeTable? rope)
    {
        float* rows = CpuBuffer.Pointer(qkv);
        int stride = shape.QkvStride, kvWidth = shape.KvStride;
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            var cache = (CpuKvCache)batch.Caches[s];
            if (cache.Transient && rope == null) continue;
            float* keys = cache.Transient ? null : cache.Keys(layer), values = cache.Transient ? null : cache.Values(layer);
            for (int t = 0; t < seq.Count; t++)
            {
                float* q = rows + (long)(seq.FirstRow + t) * stride;
                float* k = q + shape.QueryWidth;
                float* v = k + kvWidth;
                int position = seq.FirstPosition + t;
                if (rope != null)
                {
                    Rope.Apply(q, shape.Heads, shape.HeadDim, rotaryDim, rope.Cos(position), rope.Sin(position));
                    Rope.Apply(k, shape.KvHeads, shape.HeadDim, rotaryDim, rope.Cos(position), rope.Sin(position));
                }
                if (cache.Transient) continue;
                Buffer.MemoryCopy(k, keys + (long)position * kvWidth, kvWidth * 4, kvWidth * 4);
                Buffer.MemoryCopy(v, values + (long)position * kvWidth, kvWidth * 4, kvWidth * 4);
            }
        }
    }

    public void Attention(ForwardBatch batch, int layer, BufferView qkv, AttentionShape shape, BufferView output)
    {
        float* rows = CpuBuffer.Pointer(qkv);
        var sequences = new AttentionSequence[batch.Sequences.Count];
        for (int s = 0; s < sequences.Length; s++)
        {
            var seq = batch.Sequences[s];
            var cache = (CpuKvCache)batch.Caches[s];
            if (seq.FirstPosition == 0)
            {
                // Nothing cached before this call: every key and value is in this call's rows, still in cache.
                float* keys = rows + (long)seq.FirstRow * shape.QkvStride + shape.QueryWidth;
                sequences[s] = new AttentionSequence(seq.FirstRow, seq.Count, 0, keys, keys + shape.KvStride, shape.QkvStride);
                continue;
            }
            if (cache.Transient) throw new NativeLayersException("a one-shot (transient) sequence cannot be continued.");
            sequences[s] = new AttentionSequence(seq.FirstRow, seq.Count, seq.FirstPosition, cache.Keys(layer), cache.Values(layer));
        }
        Cpu.Attention.Run(Pool, sequences, rows, shape.QkvStride, CpuBuffer.Pointer(output), shape.QueryWidth, shape);
    }

    public void Activate(Activation activation, BufferView values, int stride, int rows, int width)
    {
        float* p = CpuBuffer.Pointer(values);
        ForRows(rows, r => Activations.Apply(activation, new Span<float>(p + (long)r * stride, width)));
    }

    public void ActivateGated(Activation activation, BufferView fused, BufferView output, int rows, int width)
    {
        float* input = CpuBuffer.Pointer(fused), result = CpuBuffer.Pointer(output);
        ForRows(rows, r =>
        {
            float* gate = input + (long)r * 2 * width;
            Activations.ApplyGated(activation, new Span<float>(gate, width), new ReadOnlySpan<float>(gate + width, width),
                new Span<float>(result + (long)r * width, width));
        });
    }

    public void ResidualAdd(BufferView target, BufferView residual, BufferView? delta, RowSteering? steering, int rows, int width)
    {
        long count = (long)rows * width;
        float* t = CpuBuffer.Pointer(target), r = CpuBuffer.Pointer(residual);
        var targetSpan = new Span<float>(t, checked((int)count));
        if (delta is { } d) TensorPrimitives.Add(new ReadOnlySpan<float>(r, (int)count), new ReadOnlySpan<float>(CpuBuffer.Pointer(d), (int)count), targetSpan);
        else if (t != r) Buffer.MemoryCopy(r, t, count * 4, count * 4);
        if (steering == null) return;
        for (int row = 0; row < rows; row++)
            for (int e = 0; e < steering.Entries; e++)
            {
                int index = steering.Indices[row * steering.Entries + e];
                if (index < 0) continue;
                var destination = targetSpan.Slice(row * width, width);
                TensorPrimitives.MultiplyAdd(steering.Vectors.AsSpan(index * width, width), steering.Coefficients[row * steering.Entries + e], destination, destination);
            }
    }

    public void ProjectOut(BufferView x, int width, ReadOnlySpan<float> direction, ReadOnlySpan<int> rows)
    {
        double norm2 = TensorPrimitives.Dot(direction, direction);
        foreach (int row in rows)
        {
            var values = CpuBuffer.Span(x.At((long)row * width), width);
            float projection = (float)(TensorPrimitives.Dot(values, direction) / norm2);
            TensorPrimitives.MultiplyAdd(direction, -projection, values, values);
        }
    }

    public void GatherRows(BufferView source, int width, ReadOnlySpan<int> rows, BufferView destination)
    {
        for (int i = 0; i < rows.Length; i++)
            CpuBuffer.Span(source.At((long)rows[i] * width), width).CopyTo(CpuBuffer.Span(destination.At((long)i * width), width));
    }

    public void ScatterAddRows(BufferView source, int width, ReadOnlySpan<int> rows, ReadOnlySpan<float> weights, BufferView target)
    {
        for (int i = 0; i < rows.Length; i++)
        {
            var destination = CpuBuffer.Span(target.At((long)rows[i] * width), width);
            TensorPrimitives.MultiplyAdd(CpuBuffer.Span(source.At((long)i * width), width), weights[i], destination, destination);
        }
    }

    public void Clear(BufferView values, long length) => CpuBuffer.Span(values, length).Clear();

    public void CausalConv1d(ForwardBatch batch, int layer, BufferView x, int xStride, StateSpaceWeights weights, BufferView y)
    {
        float* input = CpuBuffer.Pointer(x), output = CpuBuffer.Pointer(y);
        int channels = weights.Channels;
        ForChannels(channels, (first, count) =>
        {
            for (int s = 0; s < batch.Sequences.Count; s++)
            {
                var seq = batch.Sequences[s];
                float* state = CpuBuffer.Pointer(((RecurrentState)batch.Caches[s]).Conv(layer));
                StateSpaceKernels.Conv(input + (long)seq.FirstRow * xStride, xStride, seq.Count, weights, state, output + (long)seq.FirstRow * channels, first, count);
            }
        });
    }

    public void SelectiveScan(ForwardBatch batch, int layer, SelectiveScanInputs inputs, StateSpaceWeights weights, BufferView y)
    {
        float* u = CpuBuffer.Pointer(inputs.U), dt = CpuBuffer.Pointer(inputs.Dt), b = CpuBuffer.Pointer(inputs.B), c = CpuBuffer.Pointer(inputs.C);
        float* gate = CpuBuffer.Pointer(inputs.Gate), output = CpuBuffer.Pointer(y);
        int channels = weights.Channels, bc = inputs.BcStride, gs = inputs.GateStride;
        ForChannels(channels, (first, count) =>
        {
            for (int s = 0; s < batch.Sequences.Count; s++)
            {
                var seq = batch.Sequences[s];
                long row = seq.FirstRow;
                var rows = new SelectiveScanRows(u + row * channels, dt + row * channels, b + row * bc, c + row * bc, bc, gate + row * gs, gs);
                float* state = CpuBuffer.Pointer(((RecurrentState)batch.Caches[s]).Scan(layer));
                StateSpaceKernels.Scan(rows, seq.Count, weights, state, output + row * channels, first, count);
            }
        });
    }

    /// <summary>
    /// Splits channels into one block per worker, in multiples of eight (the state-space ops are independent per channel
    /// and a decode step is too small to pay for more dispatches); fewer blocks when there are too few channels.
    /// </summary>
    private void ForChannels(int channels, Action<int, int> body)
    {
        int perPart = Math.Max(MinChannelsPerPart, (channels / Pool.Threads + 7) / 8 * 8);
        int parts = (channels + perPart - 1) / perPart;
        if (parts == 1)
        {
            body(0, channels);
            return;
        }
        Pool.For(parts, part => body(part * perPart, Math.Min(perPart, channels - part * perPart)));
    }

    /// <summary>Runs a per-row body in parallel chunks when there are enough rows to be worth it.</summary>
    private void ForRows(int rows, Action<int> body)
    {
        if (rows < 2 * RowsPerPart)
        {
            for (int r = 0; r < rows; r++) body(r);
            return;
        }
        Pool.For((rows + RowsPerPart - 1) / RowsPerPart, part =>
        {
            int end = Math.Min(rows, (part + 1) * RowsPerPart);
            for (int r = part * RowsPerPart; r < end; r++) body(r);
        });
    }

    public void Dispose()
    {
        Constants.Dispose();
        if (_ownsPool) Pool.Dispose();
    }
}
