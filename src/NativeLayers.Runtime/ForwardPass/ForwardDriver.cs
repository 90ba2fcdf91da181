using System.Numerics.Tensors;
using NativeLayers.Backends;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;
using NativeLayers.Runtime.Models;

namespace NativeLayers.Runtime.ForwardPass;

/// <summary>
/// The forward pass, written once for every backend: input validation, embeddings, the blocks (see
/// <see cref="TransformerBlock"/>), hook points, the final norm and the logits, all through <see cref="IComputeBackend"/>.
/// The residual stream's slots are the host buffers themselves on a backend that computes in host memory, and device
/// buffers copied back on request otherwise.
/// </summary>
internal sealed class ForwardDriver : IDisposable
{
    private readonly IComputeBackend _backend;
    private readonly ModelConfig _config;
    private readonly ArchitectureSpec _spec;
    private readonly ModelWeights _weights;
    private readonly ModelShape _shape;
    /// <summary>One rotary table per base (local and global layers may differ), shared by the layers that use it.</summary>
    private readonly RopeTable?[] _ropeByLayer;
    /// <summary>LongRoPE's tables with its long factors (null otherwise), and the tables of the call being run.</summary>
    private readonly RopeTable?[]? _longRopeByLayer;
    private RopeTable?[] _activeRope;
    private readonly string _source;
    private readonly Scratch _scratch;
    private readonly TransformerBlock _block;

    public ForwardDriver(IComputeBackend backend, ModelConfig config, ArchitectureSpec spec, ModelWeights weights, ModelShape shape, string source)
    {
        _backend = backend;
        _config = config;
        _spec = spec;
        _weights = weights;
        _shape = shape;
        _source = source;
        _ropeByLayer = RopeTables(longFactors: false);
        _longRopeByLayer = spec.RopeScaling is { IsLongRope: true } ? RopeTables(longFactors: true) : null;
        _activeRope = _ropeByLayer;
        _scratch = new Scratch(backend);
        _block = new TransformerBlock(backend, _scratch, config, spec, layer => _activeRope[layer]);
    }

    private RopeTable?[] RopeTables(bool longFactors)
    {
        var tables = new Dictionary<double, RopeTable>();
        return Enumerable.Range(0, _config.NumLayers).Select(layer =>
        {
            if (_spec.RotaryDim == 0) return null;
            double theta = _spec.Attention(layer).RopeTheta;
            if (!tables.TryGetValue(theta, out var table))
                tables[theta] = table = new RopeTable(_spec.RotaryDim, theta, _spec.RopeScaling, Math.Min(_config.MaxPositions, 4096), longFactors);
            return table;
        }).ToArray();
    }

    /// <summary>
    /// LongRoPE decides per sequence, as a full recomputation in Hugging Face would: short factors while the sequence fits
    /// in the original context, long ones once it is longer, for every position. So one call cannot mix the two, and a
    /// sequence cannot cross over with keys already cached under the short factors.
    /// </summary>
    private RopeTable?[] RopeFor(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens)
    {
        if (_longRopeByLayer == null) return _ropeByLayer;
        int original = _spec.RopeScaling!.OriginalMaxPositions;
        bool[] isLong = sequences.Select((s, i) => s.Length + tokens[i].Length > original).ToArray();
        for (int i = 0; i < sequences.Count; i++)
            if (isLong[i] && sequences[i].Length > 0 && sequences[i].Length <= original)
                throw new NativeLayersException($"sequence {i} grows past original_max_position_embeddings ({original}) of {_source}, but its cached keys were " +
                    $"rotated with LongRoPE's short factors (its first {sequences[i].Length} tokens); Hugging Face recomputes such a sequence with the long factors. " +
                    $"Run the whole text in one call (a prompt longer than {original} tokens uses the long factors from the start), or start a new sequence.");
        if (isLong.Distinct().Count() > 1)
            throw new NativeLayersException($"LongRoPE: this batch mixes sequences within original_max_position_embeddings ({original}) of {_source} and longer ones, " +
                "which use different rotary factors; run the two groups in separate calls.");
        return isLong.FirstOrDefault() ? _longRopeByLayer : _ropeByLayer;
    }

    private int Width => _config.HiddenSize;
    private int Layers => _config.NumLayers;

    public ForwardResult Run(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens, ForwardOptions options, LogitsMode logits,
        int startSlot, IReadOnlyList<float[]>? initialResidual)
    {
        InputValidation.Check(_source, _config, _weights, sequences, tokens, options);
        var rows = new List<SequenceRows>();
        int next = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            rows.Add(new SequenceRows(next, tokens[s].Length, sequences[s].Length));
            next += tokens[s].Length;
            sequences[s].PromptLength ??= sequences[s].Length + tokens[s].Length;
        }
        var stream = new ResidualStream(Layers, Width, rows);
        var batch = new ForwardBatch(rows, sequences.Select(s => s.Cache).ToArray());
        var hooks = Hooks(stream, sequences, options);
        _activeRope = RopeFor(sequences, tokens);
        PrepareCaches(batch);

        var (slots, onHost) = SlotBuffers(stream, options.HostSlots);
        if (initialResidual == null)
        {
            Embed(batch, tokens, options.TokenTypes, slots[0]);
            hooks?.Apply(HookId.Embed, slots[0]);
        }
        else
            for (int s = 0; s < initialResidual.Count; s++)
                _backend.Upload(initialResidual[s], slots[startSlot].At((long)rows[s].FirstRow * Width));
        int endSlot = options.StopAtSlot ?? Layers;
        for (int layer = startSlot; layer < endSlot; layer++)
        {
            _block.Run(layer, _weights.Blocks[layer], batch, slots[layer], slots[layer + 1], hooks);
            options.LayerProgress?.Report((layer + 1 - startSlot, endSlot - startSlot));
        }

        var logitValues = logits == LogitsMode.None ? null : Logits(stream, slots[Layers], logits);
        if (endSlot == Layers && hooks != null && hooks.Schedule.Captures(HookId.FinalNormalized))
        {
            var normed = _scratch.Get("final_normalized", (long)stream.Rows * Width);
            FinalNorm(slots[Layers], normed, stream.Rows);
            hooks.Store(HookId.FinalNormalized, normed);
        }
        for (int i = startSlot; i <= endSlot; i++)
            if (!onHost[i] && Wanted(options.HostSlots, i)) _backend.Download(slots[i], stream.Slot(i));
        foreach (var (sequence, ids) in sequences.Zip(tokens))
        {
            sequence.Cache.Length += ids.Length;
            sequence.Tokens.AddRange(ids);
        }
        return new ForwardResult(stream, logitValues, _config.VocabSize, logits, hooks?.Captured);
    }

    private HookApplier? Hooks(ResidualStream stream, IReadOnlyList<Sequence> sequences, ForwardOptions options)
    {
        var plans = new SteeringPlan?[sequences.Count];
        if (options.SequenceSteering is { } perSequence)
        {
            if (perSequence.Count != sequences.Count)
                throw new NativeLayersException($"{perSequence.Count} steering plans for {sequences.Count} sequences; give one (or null) per sequence.");
            for (int i = 0; i < plans.Length; i++) plans[i] = perSequence[i];
        }
        else Array.Fill(plans, options.Steering);
        var schedule = HookSchedule.Create(_shape, stream.Sequences, plans, sequences.Select(s => s.PromptLength ?? 0).ToArray(), options.Capture);
        return schedule == null ? null : new HookApplier(_backend, schedule, stream.Rows, Width);
    }

    private void PrepareCaches(ForwardBatch batch)
    {
        int longest = 0;
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            int end = batch.Sequences[s].FirstPosition + batch.Sequences[s].Count;
            batch.Caches[s].EnsureCapacity(end);
            longest = Math.Max(longest, end);
        }
        foreach (var table in _activeRope.Distinct()) table?.EnsurePositions(longest);
    }

    /// <summary>
    /// A wanted slot is the stream's own host buffer when the backend computes in host memory, else a device buffer
    /// of its own. The other slots pass through two scratch buffers in turn (block l reads slot l, writes slot l + 1),
    /// so a forward that wants one slot does not touch fresh memory for every block.
    /// </summary>
    private (BufferView[] Slots, bool[] OnHost) SlotBuffers(ResidualStream stream, IReadOnlyCollection<int>? wanted)
    {
        var slots = new BufferView[Layers + 1];
        var onHost = new bool[Layers + 1];
        long length = (long)stream.Rows * Width;
        for (int i = 0; i <= Layers; i++)
        {
            if (!Wanted(wanted, i))
            {
                slots[i] = _scratch.Get($"transit{i % 2}", length);
                continue;
            }
            var wrapped = _backend.WrapHost(stream.SlotBuffer(i));
            onHost[i] = wrapped != null;
            slots[i] = wrapped ?? _scratch.Get($"slot{i}", length);
        }
        return (slots, onHost);
    }

    private static bool Wanted(IReadOnlyCollection<int>? hostSlots, int slot) => hostSlots == null || hostSlots.Contains(slot);

    /// <summary>Slot 0: token embedding (scaled), plus learned position and token-type embeddings, then the embedding norm.</summary>
    private void Embed(ForwardBatch batch, IReadOnlyList<int[]> tokens, IReadOnlyList<int[]>? tokenTypes, BufferView slot0)
    {
        _backend.Gather(_weights.Embedding, tokens.SelectMany(t => t).ToArray(), slot0, _spec.EmbeddingScale, accumulate: false);
        if (_weights.PositionEmbedding is { } positions) _backend.Gather(positions, batch.Positions, slot0, 1f, accumulate: true);
        if (_weights.TokenTypeEmbedding is { } types)
            _backend.Gather(types, tokenTypes?.SelectMany(t => t).ToArray() ?? new int[batch.Rows], slot0, 1f, accumulate: true);
        if (_weights.EmbeddingNorm is { } norm) _backend.Norm(_spec.Norm, norm, _spec.NormEps, slot0, slot0, batch.Rows, Width);
    }

    private float[] Logits(ResidualStream stream, BufferView last, LogitsMode mode)
    {
        int[] sourceRows = mode == LogitsMode.All
            ? Enumerable.Range(0, stream.Rows).ToArray()
            : stream.Sequences.Select(s => s.FirstRow + s.Count - 1).ToArray();
        int n = sourceRows.Length, vocab = _config.VocabSize;
        var gathered = _scratch.Get("final", (long)n * Width);
        _backend.GatherRows(last, Width, sourceRows, gathered);
        if (_weights.FinalNorm is { } norm) _backend.Norm(_spec.Norm, norm, _spec.NormEps, gathered, gathered, n, Width);
        var host = new PinnedBuffer(n * vocab);
        var wrapped = _backend.WrapHost(host);
        var target = wrapped ?? _scratch.Get("logits", (long)n * vocab);
        _backend.Linear(_weights.Head!, gathered, Width, n, target, vocab, accumulate: false);
        if (wrapped == null) _backend.Download(target, host.Span);
        HostMath.SoftCap(host.Span, _spec.FinalLogitSoftCap);
        return host.Array;
    }

    private void FinalNorm(BufferView source, BufferView target, int rows)
    {
        if (_weights.FinalNorm is { } norm) _backend.Norm(_spec.Norm, norm, _spec.NormEps, source, target, rows, Width);
        else _backend.ResidualAdd(target, source, null, null, rows, Width);
    }

    /// <summary>The final norm applied to host rows (what Hugging Face reports as the last hidden state); a copy for models without one.</summary>
    public float[] FinalNorm(ReadOnlySpan<float> rows) => OnBackend(rows, rows.Length, (input, output, n) => FinalNorm(input, output, n));

    /// <summary>BERT's pooled output per sequence: tanh(dense(last slot at the first token)); [sequences, width].</summary>
    public float[] PooledOutput(ResidualStream stream)
    {
        var pooler = _weights.Pooler ?? throw new NativeLayersException($"{_source} has no pooler.");
        int n = stream.Sequences.Count;
        var first = new float[n * Width];
        for (int s = 0; s < n; s++) stream.Row(-1, stream.Sequences[s].FirstRow).CopyTo(first.AsSpan(s * Width, Width));
        var pooled = OnBackend(first, n * Width, (input, output, rows) => _backend.Linear(pooler, input, Width, rows, output, Width, accumulate: false));
        TensorPrimitives.Tanh(pooled, pooled);
        return pooled;
    }

    /// <summary>Runs an op on host rows of this model's width and returns its [rows, width] host result.</summary>
    private float[] OnBackend(ReadOnlySpan<float> rows, int outputLength, Action<BufferView, BufferView, int> op)
    {
        var input = _scratch.Get("host_input", Math.Max(1, rows.Length));
        var output = _scratch.Get("host_output", Math.Max(1, outputLength));
        _backend.Upload(rows, input);
        op(input, output, rows.Length / Width);
        var result = new float[outputLength];
        _backend.Download(output, result);
        return result;
    }

    public void Dispose() => _scratch.Dispose();
}
