using ILGPU;
using ILGPU.Runtime;
using NativeLayers.Backends;
using NativeLayers.Gpu;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;
using NativeLayers.Runtime.Models;

namespace NativeLayers.Runtime.Device;

/// <summary>
/// Runs the generic block on a <see cref="GpuDevice"/>: the same recipes, weights, block layouts and hook points as
/// the CPU path. Weights are uploaded once in their stored dtype; the residual stream and the KV caches live on the
/// device; slots come back to the host only when asked. Plain steering additions (per sequence, per position) are a
/// per-row table fused into the residual-add kernel; ablations use the projection kernel; operations that need a row's
/// own norm run on the host for the rows they touch.
/// </summary>
internal sealed unsafe class DeviceExecutor : IDisposable
{
    private sealed class DeviceLinear(GpuMatrix[] parts, MemoryBuffer1D<float, Stride1D.Dense>? bias, int outFeatures)
    {
        public readonly GpuMatrix[] Parts = parts;
        public readonly MemoryBuffer1D<float, Stride1D.Dense>? Bias = bias;
        public readonly int OutFeatures = outFeatures;
    }

    private sealed class DeviceNorm(MemoryBuffer1D<float, Stride1D.Dense> weight, MemoryBuffer1D<float, Stride1D.Dense>? bias)
    {
        public readonly MemoryBuffer1D<float, Stride1D.Dense> Weight = weight;
        public readonly MemoryBuffer1D<float, Stride1D.Dense>? Bias = bias;
    }

    private sealed class DeviceBlock
    {
        public required DeviceNorm AttentionNorm, MlpNorm;
        public required DeviceLinear Qkv, Output, Up, Down;
    }

    private readonly Transformer _model;
    private readonly GpuDevice _gpu;
    private readonly DeviceBlock[] _blocks;
    private readonly GpuMatrix _embedding;
    private readonly GpuMatrix? _positions, _tokenTypes;
    private readonly DeviceNorm? _embeddingNorm, _finalNorm;
    private readonly DeviceLinear? _head;
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<string, MemoryBuffer1D<float, Stride1D.Dense>> _floats = new();
    private readonly Dictionary<string, MemoryBuffer1D<int, Stride1D.Dense>> _ints = new();
    private MemoryBuffer1D<float, Stride1D.Dense>? _cos, _sin;
    private int _ropePositions;

    public GpuDevice Gpu => _gpu;

    public DeviceExecutor(Transformer model, ComputeDevice device)
    {
        _model = model;
        _gpu = new GpuDevice(device == ComputeDevice.Cuda ? DeviceKind.Cuda : DeviceKind.IlgpuCpu);
        if (model.Spec.Activation == Activation.SoluLn)
            throw new NativeLayersException("SoLU models run on the CPU backend only (no GPU kernel yet); use --device cpu.");
        var w = model.Weights;
        _embedding = Matrix(w.Embedding);
        _positions = w.PositionEmbedding is { } p ? Matrix(p) : null;
        _tokenTypes = w.TokenTypeEmbedding is { } t ? Matrix(t) : null;
        _embeddingNorm = w.EmbeddingNorm is { } en ? Norm(en) : null;
        _finalNorm = w.FinalNorm is { } fn ? Norm(fn) : null;
        _head = w.Head is { } h ? Linear(h) : null;
        _blocks = w.Blocks.Select(b => new DeviceBlock
        {
            AttentionNorm = Norm(b.AttentionNorm), MlpNorm = Norm(b.MlpNorm),
            Qkv = Linear(b.Qkv), Output = Linear(b.Output), Up = Linear(b.Up), Down = Linear(b.Down),
        }).ToArray();
    }

    private GpuMatrix Matrix(WeightMatrix m)
    {
        var matrix = _gpu.UploadMatrix(new ReadOnlySpan<byte>(m.Data, checked((int)m.ByteLength)), m.DType, m.Rows, m.Cols);
        _owned.Add(matrix);
        return matrix;
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Upload(ReadOnlySpan<float> values)
    {
        var buffer = _gpu.Upload(values);
        _owned.Add(buffer);
        return buffer;
    }

    private DeviceNorm Norm(NormWeights n) => new(Upload(n.Weight.Span), n.Bias == null ? null : Upload(n.Bias.Span));

    private DeviceLinear Linear(Linear l) => new(l.Parts.Select(Matrix).ToArray(), l.Bias == null ? null : Upload(l.Bias.Span), l.OutFeatures);

    // ------------------------------------------------------------------ scratch buffers

    private ArrayView<float> Floats(string name, long length)
    {
        if (!_floats.TryGetValue(name, out var b) || b.Length < length)
        {
            b?.Dispose();
            _floats[name] = b = _gpu.Allocate<float>(Math.Max(1, length));
        }
        return b.View.AsContiguous().SubView(0, Math.Max(1, length));
    }

    private ArrayView<int> Ints(string name, ReadOnlySpan<int> values)
    {
        if (!_ints.TryGetValue(name, out var b) || b.Length < values.Length)
        {
            b?.Dispose();
            _ints[name] = b = _gpu.Allocate<int>(Math.Max(1, values.Length));
        }
        var view = b.View.AsContiguous().SubView(0, Math.Max(1, values.Length));
        _gpu.Synchronize();
        if (values.Length > 0) view.SubView(0, values.Length).CopyFromCPU(values);
        return view.SubView(0, values.Length);
    }

    private ArrayView<float> FloatsFrom(string name, ReadOnlySpan<float> values)
    {
        var view = Floats(name, values.Length);
        _gpu.Synchronize();
        if (values.Length > 0) view.SubView(0, values.Length).CopyFromCPU(values);
        return view.SubView(0, values.Length);
    }

    private float[] Download(ArrayView<float> view) => _gpu.Download(view);

    // ------------------------------------------------------------------ the forward pass

    private int Width => _model.Width;
    private int QueryWidth => _model.Config.NumHeads * _model.Config.HeadDim;
    private int KvWidth => _model.Config.NumKvHeads * _model.Config.HeadDim;

    public ForwardResult Run(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens, ForwardOptions options, LogitsMode logits,
        ResidualStream stream, HookRunner? hooks, int startSlot, IReadOnlyList<float[]>? initialResidual)
    {
        int rows = stream.Rows, d = Width, layers = _model.Layers;
        var slots = Enumerable.Range(0, layers + 1).Select(i => Floats($"slot{i}", (long)rows * d)).ToArray();
        var positions = new int[rows];
        foreach (var seq in stream.Sequences)
            for (int t = 0; t < seq.Count; t++) positions[seq.FirstRow + t] = seq.FirstPosition + t;
        var positionView = Ints("positions", positions);
        PrepareCaches(sequences, tokens);

        if (initialResidual == null)
        {
            Embed(stream, tokens, options.TokenTypes, positionView, slots[0]);
            Hook(hooks, HookId.Embed, slots[0], stream);
        }
        else
        {
            var host = new float[rows * d];
            for (int s = 0; s < initialResidual.Count; s++) initialResidual[s].CopyTo(host, stream.Sequences[s].FirstRow * d);
            _gpu.Synchronize();
            slots[startSlot].SubView(0, host.Length).CopyFromCPU(host);
        }
        for (int layer = startSlot; layer < layers; layer++) Block(layer, stream, sequences, slots, positionView, hooks);

        float[]? logitValues = logits == LogitsMode.None ? null : Logits(stream, slots[layers], logits);
        if (hooks != null && hooks.Captures(HookId.FinalNormalized))
            hooks.Store(HookId.FinalNormalized, Normalized(slots[layers], rows));
        CopySlotsToHost(stream, slots, options.HostSlots, startSlot);
        return new ForwardResult(stream, logitValues, _model.VocabSize, logits, hooks?.Captured);
    }

    private void PrepareCaches(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens)
    {
        int longest = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            var seq = sequences[s];
            seq.DeviceCache ??= new DeviceKvCache(_gpu, _model.Layers, KvWidth);
            int end = seq.Length + tokens[s].Length;
            seq.DeviceCache.EnsureCapacity(end, seq.Length);
            longest = Math.Max(longest, end);
        }
        if (_model.RotaryTable is { } rope && longest > _ropePositions)
        {
            rope.EnsurePositions(longest);
            _cos?.Dispose(); _sin?.Dispose();
            _cos = _gpu.Upload(new ReadOnlySpan<float>(rope.Cos(0), rope.Positions * rope.Half));
            _sin = _gpu.Upload(new ReadOnlySpan<float>(rope.Sin(0), rope.Positions * rope.Half));
            _ropePositions = rope.Positions;
        }
    }

    private void Embed(ResidualStream stream, IReadOnlyList<int[]> tokens, IReadOnlyList<int[]>? tokenTypes, ArrayView<int> positions, ArrayView<float> slot0)
    {
        int rows = stream.Rows, d = Width;
        var ids = Ints("ids", tokens.SelectMany(t => t).ToArray());
        _gpu.Embed(ids, _embedding, slot0, d, _model.Spec.EmbeddingScale);
        if (_positions != null) AddEmbedding(_positions, positions, slot0, rows);
        if (_tokenTypes != null)
            AddEmbedding(_tokenTypes, Ints("types", tokenTypes?.SelectMany(t => t).ToArray() ?? new int[rows]), slot0, rows);
        if (_embeddingNorm != null) Normalize(_embeddingNorm, slot0, slot0, rows);
    }

    private void AddEmbedding(GpuMatrix table, ArrayView<int> ids, ArrayView<float> target, int rows)
    {
        var extra = Floats("embed_extra", (long)rows * Width);
        _gpu.Embed(ids, table, extra, Width);
        _gpu.ResidualAdd(target, target, extra, default, default, default, Dims(rows, entries: 0));
    }

    private ResidualDims Dims(int rows, int entries) =>
        new() { Rows = rows, Width = Width, TargetStride = Width, ResidualStride = Width, DeltaStride = Width, EntriesPerRow = entries };

    private void Block(int layer, ResidualStream stream, IReadOnlyList<Sequence> sequences, ArrayView<float>[] slots, ArrayView<int> positions, HookRunner? hooks)
    {
        var block = _blocks[layer];
        int rows = stream.Rows, d = Width;
        var input = slots[layer];
        var output = slots[layer + 1];
        var normed = Floats("normed", (long)rows * d);
        var delta = Floats("delta", (long)rows * d);
        Hook(hooks, new HookId(HookPoint.ResidPre, layer), input, stream);
        switch (_model.Spec.Layout)
        {
            case BlockLayout.PreNorm:
                Normalize(block.AttentionNorm, input, normed, rows);
                SubLayer(block.Output, Attend(layer, block, normed, stream, sequences, positions), QueryWidth, rows, delta, hooks, new HookId(HookPoint.AttnOut, layer), stream);
                ResidualAdd(output, input, delta, rows, hooks, new HookId(HookPoint.ResidMid, layer), stream);
                Normalize(block.MlpNorm, output, normed, rows);
                SubLayer(block.Down, Mlp(block, normed, rows), _model.Config.IntermediateSize, rows, delta, hooks, new HookId(HookPoint.MlpOut, layer), stream);
                ResidualAdd(output, output, delta, rows, hooks, new HookId(HookPoint.ResidPost, layer), stream);
                break;
            case BlockLayout.Parallel:
                Normalize(block.AttentionNorm, input, normed, rows);
                SubLayer(block.Output, Attend(layer, block, normed, stream, sequences, positions), QueryWidth, rows, delta, hooks, new HookId(HookPoint.AttnOut, layer), stream);
                ResidualAdd(output, input, delta, rows, null, default, stream);
                Normalize(block.MlpNorm, input, normed, rows);
                SubLayer(block.Down, Mlp(block, normed, rows), _model.Config.IntermediateSize, rows, delta, hooks, new HookId(HookPoint.MlpOut, layer), stream);
                ResidualAdd(output, output, delta, rows, hooks, new HookId(HookPoint.ResidPost, layer), stream);
                break;
            case BlockLayout.PostNorm:
                var middle = Floats("middle", (long)rows * d);
                SubLayer(block.Output, Attend(layer, block, input, stream, sequences, positions), QueryWidth, rows, delta, hooks, new HookId(HookPoint.AttnOut, layer), stream);
                ResidualAdd(normed, input, delta, rows, null, default, stream);
                Normalize(block.AttentionNorm, normed, middle, rows);
                Hook(hooks, new HookId(HookPoint.ResidMid, layer), middle, stream);
                SubLayer(block.Down, Mlp(block, middle, rows), _model.Config.IntermediateSize, rows, delta, hooks, new HookId(HookPoint.MlpOut, layer), stream);
                ResidualAdd(output, middle, delta, rows, null, default, stream);
                Normalize(block.MlpNorm, output, output, rows);
                Hook(hooks, new HookId(HookPoint.ResidPost, layer), output, stream);
                break;
        }
    }

    /// <summary>delta = projection(activations), then the hook of the sub-layer's own output.</summary>
    private void SubLayer(DeviceLinear projection, ArrayView<float> activations, int inFeatures, int rows, ArrayView<float> delta,
        HookRunner? hooks, HookId hook, ResidualStream stream)
    {
        Apply(projection, activations, inFeatures, rows, delta, Width);
        Hook(hooks, hook, delta, stream);
    }

    /// <summary>target = residual + delta, with the point's plain steering additions fused into the same kernel.</summary>
    private void ResidualAdd(ArrayView<float> target, ArrayView<float> residual, ArrayView<float> delta, int rows, HookRunner? hooks, HookId hook, ResidualStream stream)
    {
        if (hooks != null && hooks.HasOperations(hook) && !NeedsHost(hooks, hook) && SteeringTable(hooks, hook, rows) is { } table)
        {
            _gpu.ResidualAdd(target, residual, delta, table.Indices, table.Coefficients, table.Vectors, Dims(rows, table.Entries));
            Ablate(hooks, hook, target, rows);
            Capture(hooks, hook, target, stream);
            return;
        }
        _gpu.ResidualAdd(target, residual, delta, default, default, default, Dims(rows, entries: 0));
        Hook(hooks, hook, target, stream);
    }

    /// <summary>Applies a point's operations to rows in place (fused table, ablation, or the host for norm-relative ones) and captures.</summary>
    private void Hook(HookRunner? hooks, HookId hook, ArrayView<float> values, ResidualStream stream)
    {
        if (hooks == null) return;
        if (hooks.HasOperations(hook))
        {
            int rows = stream.Rows;
            if (NeedsHost(hooks, hook))
            {
                var host = Download(values.SubView(0, (long)rows * Width));
                fixed (float* p = host) hooks.Apply(hook, p, includeFolded: true);
                _gpu.Synchronize();
                values.SubView(0, host.Length).CopyFromCPU(host);
                return; // Apply also captured
            }
            if (SteeringTable(hooks, hook, rows) is { } table)
                _gpu.ResidualAdd(values, values, default, table.Indices, table.Coefficients, table.Vectors, Dims(rows, table.Entries));
            Ablate(hooks, hook, values, rows);
        }
        Capture(hooks, hook, values, stream);
    }

    private static bool NeedsHost(HookRunner hooks, HookId hook) =>
        hooks.NeedsHost(hook) || (hooks.Additions(hook).Any() && hooks.Ablations(hook).Any()); // exact ordering of mixed operations

    private void Capture(HookRunner hooks, HookId hook, ArrayView<float> values, ResidualStream stream)
    {
        if (hook.Slot < 0 && hooks.Captures(hook)) hooks.Store(hook, Download(values.SubView(0, (long)stream.Rows * Width)));
    }

    private sealed record Table(ArrayView<int> Indices, ArrayView<float> Coefficients, ArrayView<float> Vectors, int Entries);

    /// <summary>The per-row steering table of a point: [rows, entries] vector indices (−1 = none) and coefficients.</summary>
    private Table? SteeringTable(HookRunner hooks, HookId hook, int rows)
    {
        var additions = hooks.Additions(hook).ToList();
        if (additions.Count == 0) return null;
        var vectors = additions.Select(a => a.Vector).Distinct().ToList();
        int entries = additions.GroupBy(a => a.Row).Max(g => g.Count());
        var indices = Enumerable.Repeat(-1, rows * entries).ToArray();
        var coefficients = new float[rows * entries];
        var used = new int[rows];
        foreach (var (row, vector, coefficient) in additions)
        {
            int slot = row * entries + used[row]++;
            indices[slot] = vectors.IndexOf(vector);
            coefficients[slot] = coefficient;
        }
        var table = new float[vectors.Count * Width];
        for (int v = 0; v < vectors.Count; v++) vectors[v].CopyTo(table, v * Width);
        return new Table(Ints("steer_index", indices), FloatsFrom("steer_coef", coefficients), FloatsFrom("steer_table", table), entries);
    }

    private void Ablate(HookRunner hooks, HookId hook, ArrayView<float> values, int rows)
    {
        foreach (var group in hooks.Ablations(hook).GroupBy(a => a.Direction))
        {
            var rowDirection = Enumerable.Repeat(-1, rows).ToArray();
            foreach (var (row, _) in group) rowDirection[row] = 0;
            _gpu.ProjectOut(values, Width, rows, Width, FloatsFrom("ablate_direction", group.Key), Ints("ablate_rows", rowDirection));
        }
    }

    private void Apply(DeviceLinear linear, ArrayView<float> x, int xStride, int rows, ArrayView<float> y, int yStride, bool accumulate = false)
    {
        int offset = 0;
        foreach (var part in linear.Parts)
        {
            var bias = linear.Bias == null ? default : linear.Bias.View.SubView(offset, part.Rows);
            _gpu.MatMul(x, xStride, rows, part, bias, y.SubView(offset), yStride, accumulate);
            offset += part.Rows;
        }
    }

    private void Normalize(DeviceNorm norm, ArrayView<float> x, ArrayView<float> y, int rows)
    {
        var spec = _model.Spec;
        if (spec.Norm == NormKind.RmsNorm) _gpu.RmsNorm(x, Width, y, Width, rows, Width, norm.Weight.View, spec.NormEps);
        else _gpu.LayerNorm(x, Width, y, Width, rows, Width, norm.Weight.View, norm.Bias is { } b ? b.View.AsContiguous() : default, spec.NormEps);
    }

    private ArrayView<float> Attend(int layer, DeviceBlock block, ArrayView<float> source, ResidualStream stream, IReadOnlyList<Sequence> sequences, ArrayView<int> positions)
    {
        var config = _model.Config;
        int rows = stream.Rows, qkvWidth = QueryWidth + 2 * KvWidth;
        var qkv = Floats("qkv", (long)rows * qkvWidth);
        var attention = Floats("attention", (long)rows * QueryWidth);
        Apply(block.Qkv, source, Width, rows, qkv, qkvWidth);
        int rotary = _model.Spec.RotaryDim;
        if (rotary > 0)
        {
            _gpu.Rope(qkv, positions, _cos!.View, _sin!.View, new RopeDims { Rows = rows, Heads = config.NumHeads, HeadDim = config.HeadDim, RotaryDim = rotary, RowStride = qkvWidth, RowOffset = 0 });
            _gpu.Rope(qkv, positions, _cos!.View, _sin!.View, new RopeDims { Rows = rows, Heads = config.NumKvHeads, HeadDim = config.HeadDim, RotaryDim = rotary, RowStride = qkvWidth, RowOffset = QueryWidth });
        }
        var dims = new AttentionDims
        {
            Heads = config.NumHeads, KvHeads = config.NumKvHeads, HeadDim = config.HeadDim,
            QStride = qkvWidth, OutStride = QueryWidth, KvStride = KvWidth, QOffset = 0, OutOffset = 0, KvOffset = 0,
            Scale = 1f / MathF.Sqrt(config.HeadDim), Causal = _model.Spec.Causal ? 1 : 0, Window = _model.Spec.SlidingWindow ?? -1,
        };
        for (int s = 0; s < sequences.Count; s++)
        {
            var seq = stream.Sequences[s];
            if (seq.Count == 0) continue;
            var cache = sequences[s].DeviceCache!;
            var rowList = Ints("kv_rows", Enumerable.Range(seq.FirstRow, seq.Count).ToArray());
            _gpu.CaptureRows(qkv.SubView(QueryWidth), qkvWidth, KvWidth, rowList, cache.Keys(layer), (long)seq.FirstPosition * KvWidth);
            _gpu.CaptureRows(qkv.SubView(QueryWidth + KvWidth), qkvWidth, KvWidth, rowList, cache.Values(layer), (long)seq.FirstPosition * KvWidth);
            var descriptor = Ints("attention_sequence", [seq.FirstRow, seq.Count, seq.FirstPosition, 0]);
            _gpu.Attention(qkv, cache.Keys(layer), cache.Values(layer), attention, descriptor, 1, seq.Count, dims);
        }
        return attention;
    }

    private ArrayView<float> Mlp(DeviceBlock block, ArrayView<float> normed, int rows)
    {
        int inter = _model.Config.IntermediateSize, upWidth = block.Up.OutFeatures;
        var up = Floats("up", (long)rows * upWidth);
        Apply(block.Up, normed, Width, rows, up, upWidth);
        if (!_model.Spec.GatedMlp)
        {
            _gpu.Activate(_model.Spec.Activation, up, upWidth, rows, inter);
            return up;
        }
        var hidden = Floats("hidden", (long)rows * inter);
        _gpu.ActivateGated(_model.Spec.Activation, up, upWidth, up.SubView(inter), upWidth, hidden, inter, rows, inter);
        return hidden;
    }

    private float[] Logits(ResidualStream stream, ArrayView<float> last, LogitsMode mode)
    {
        int[] sourceRows = mode == LogitsMode.All
            ? Enumerable.Range(0, stream.Rows).ToArray()
            : stream.Sequences.Select(s => s.FirstRow + s.Count - 1).ToArray();
        int n = sourceRows.Length, vocab = _model.VocabSize;
        var gathered = Floats("final", (long)n * Width);
        _gpu.CaptureRows(last, Width, Width, Ints("logit_rows", sourceRows), gathered);
        if (_finalNorm != null) Normalize(_finalNorm, gathered, gathered, n);
        var logits = Floats("logits", (long)n * vocab);
        Apply(_head!, gathered, Width, n, logits, vocab);
        return Download(logits.SubView(0, (long)n * vocab));
    }

    private float[] Normalized(ArrayView<float> last, int rows)
    {
        var normed = Floats("final_normalized", (long)rows * Width);
        if (_finalNorm != null) Normalize(_finalNorm, last, normed, rows);
        else _gpu.ResidualAdd(normed, last, default, default, default, default, Dims(rows, 0));
        return Download(normed.SubView(0, (long)rows * Width));
    }

    private void CopySlotsToHost(ResidualStream stream, ArrayView<float>[] slots, IReadOnlyCollection<int>? wanted, int startSlot)
    {
        _gpu.Synchronize();
        for (int i = startSlot; i < slots.Length; i++)
        {
            if (wanted != null && !wanted.Contains(i)) continue;
            var host = stream.Slot(i);
            if (host.Length > 0) slots[i].SubView(0, host.Length).CopyToCPU(host);
        }
    }

    public void Dispose()
    {
        foreach (var b in _floats.Values) b.Dispose();
        foreach (var b in _ints.Values) b.Dispose();
        _cos?.Dispose(); _sin?.Dispose();
        foreach (var o in _owned) o.Dispose();
        _gpu.Dispose();
    }
}
