using System.Numerics.Tensors;
using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;
using NativeLayers.Runtime.Models;
using NativeLayers.Tokenizing;

namespace NativeLayers.Runtime;

/// <summary>Settings of a loaded model.</summary>
public sealed record RuntimeOptions
{
    /// <summary>Worker threads for the CPU kernels; 0 = one per core.</summary>
    public int Threads { get; init; }
    /// <summary>Where the forward pass runs; auto = CUDA when a GPU is present, else the CPU backend.</summary>
    public NativeLayers.Runtime.Device.ComputeDevice Device { get; init; } = NativeLayers.Runtime.Device.ComputeDevice.Cpu;
}

/// <summary>
/// A loaded model ready to run: weights memory-mapped, one generic block driven by the architecture's recipe, and
/// the residual stream as the buffer every block reads from and writes to. Calls are serialised (one forward at a
/// time per instance); batch sequences instead of calling from several threads.
/// </summary>
public sealed unsafe class Transformer : IDisposable
{
    private readonly Workspace _workspace = new();
    private readonly object _forwardLock = new();
    private readonly bool _ownsPool;
    private readonly RopeTable? _rope;
    private ITextTokenizer? _tokenizer;
    private readonly WeightBinder _binder; // owns re-laid-out weights (transposed / permuted copies)
    private readonly Device.DeviceExecutor? _device;

    public ModelFolder Folder { get; }
    public ModelConfig Config { get; }
    public ArchitectureSpec Spec { get; }
    public ModelWeights Weights { get; }
    public WorkerPool Pool { get; }

    public int Layers => Config.NumLayers;
    public int Width => Config.HiddenSize;
    public int VocabSize => Config.VocabSize;
    private int QueryWidth => Config.NumHeads * Config.HeadDim;
    private int KvWidth => Config.NumKvHeads * Config.HeadDim;

    private Transformer(ModelFolder folder, RuntimeOptions options)
    {
        Folder = folder;
        Config = folder.Config;
        var recipe = ModelRecipes.For(Config);
        Spec = recipe.Spec(Config);
        _binder = new WeightBinder(folder.Weights, Config, [.. recipe.NamePrefixes]);
        Weights = recipe.Bind(_binder, Config);
        if (Spec.RotaryDim > 0)
            _rope = new RopeTable(Spec.RotaryDim, Spec.RopeTheta, Spec.RopeScaling, Math.Min(Config.MaxPositions, 4096));
        _ownsPool = options.Threads > 0;
        Pool = _ownsPool ? new WorkerPool(options.Threads) : WorkerPool.Default;
        ComputeDevice = NativeLayers.Runtime.Device.ComputeDevices.Resolve(options.Device);
        if (ComputeDevice != NativeLayers.Runtime.Device.ComputeDevice.Cpu)
            _device = new NativeLayers.Runtime.Device.DeviceExecutor(this, ComputeDevice);
    }

    /// <summary>Where this model runs (auto already resolved).</summary>
    public NativeLayers.Runtime.Device.ComputeDevice ComputeDevice { get; }

    internal RopeTable? RotaryTable => _rope;

    public static Transformer Load(string directory, RuntimeOptions? options = null)
    {
        var folder = ModelFolder.Open(directory);
        try
        {
            return new Transformer(folder, options ?? new RuntimeOptions());
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    public bool HasTokenizer => TokenizerLoader.HasTokenizer(Folder.Directory);

    /// <summary>The folder's tokenizer, loaded on first use; throws a clear error when the folder has none.</summary>
    public ITextTokenizer Tokenizer => _tokenizer ??= TokenizerLoader.Load(Folder.Directory);

    public Sequence NewSequence(int expectedLength = 64) => new(new KvCache(Layers, KvWidth, expectedLength));

    public bool HasLanguageModelHead => Weights.Head != null;

    /// <summary>Logits for every token when the model has a head, none otherwise (encoders).</summary>
    public LogitsMode DefaultLogits => HasLanguageModelHead ? LogitsMode.All : LogitsMode.None;

    /// <summary>Runs fresh sequences (no cache kept) and returns every slot of the residual stream.</summary>
    public ForwardResult Forward(IReadOnlyList<int[]> batch, LogitsMode? logits = null, IReadOnlyList<int[]>? tokenTypes = null) =>
        Forward(batch, new ForwardOptions { Logits = logits, TokenTypes = tokenTypes });

    public ForwardResult Forward(IReadOnlyList<int[]> batch, ForwardOptions options) =>
        Forward(batch.Select(b => NewSequence(b.Length)).ToArray(), batch, options);

    /// <summary>Appends tokens[i] to sequences[i] (prefill or decode, any mix of lengths), extending their KV caches.</summary>
    public ForwardResult Forward(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens, LogitsMode logits, IReadOnlyList<int[]>? tokenTypes = null) =>
        Forward(sequences, tokens, new ForwardOptions { Logits = logits, TokenTypes = tokenTypes });

    public ForwardResult Forward(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens, ForwardOptions options) =>
        Run(sequences, tokens, options, startSlot: 0, initialResidual: null);

    /// <summary>
    /// Runs blocks startSlot..L-1 of fresh sequences from a given residual: <paramref name="residual"/> holds, per
    /// sequence, [tokens, width] rows that become slot <paramref name="startSlot"/> (slots before it stay zero).
    /// Token ids are still needed for their count and positions. This is the entry point for stitching and for
    /// checking steering ("a steered forward equals an unsteered one resumed from the modified residual").
    /// </summary>
    public ForwardResult ForwardFrom(int startSlot, IReadOnlyList<float[]> residual, IReadOnlyList<int[]> tokens, ForwardOptions? options = null)
    {
        if (startSlot < 0 || startSlot > Layers)
            throw new NativeLayersException($"cannot resume from slot {startSlot}: this model has slots 0..{Layers}.");
        if (residual.Count != tokens.Count || residual.Zip(tokens).Any(p => p.First.Length != p.Second.Length * Width))
            throw new NativeLayersException($"the residual to resume from must hold [tokens, {Width}] values for each sequence.");
        var sequences = tokens.Select(t => NewSequence(t.Length)).ToArray();
        return Run(sequences, tokens, options ?? new ForwardOptions(), startSlot, residual);
    }

    private ForwardResult Run(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens, ForwardOptions options, int startSlot, IReadOnlyList<float[]>? initialResidual)
    {
        if (sequences.Count != tokens.Count)
            throw new ArgumentException($"{sequences.Count} sequences but {tokens.Count} token lists.");
        var logits = options.Logits ?? DefaultLogits;
        if (logits != LogitsMode.None && !HasLanguageModelHead)
            throw new NativeLayersException($"{Folder.Directory} ({Config.ModelType}) has no language-model head, so it gives no logits.");
        ValidateTokenTypes(tokens, options.TokenTypes);
        lock (_forwardLock)
        {
            var rows = new List<SequenceRows>();
            int next = 0;
            for (int s = 0; s < sequences.Count; s++)
            {
                rows.Add(new SequenceRows(next, tokens[s].Length, sequences[s].Length));
                next += tokens[s].Length;
                sequences[s].PromptLength ??= sequences[s].Length + tokens[s].Length;
            }
            var stream = new ResidualStream(Layers, Width, rows);
            var hooks = HookRunner.Create(this, stream, sequences, options);
            if (_device != null)
            {
                var deviceResult = _device.Run(sequences, tokens, options, logits, stream, hooks, startSlot, initialResidual);
                Advance(sequences, tokens);
                return deviceResult;
            }
            PrepareCaches(sequences, tokens);
            if (initialResidual == null)
            {
                Embed(stream, tokens, options.TokenTypes);
                hooks?.Apply(HookId.Embed, stream.SlotBuffer(0).Pointer);
            }
            else
            {
                var slot = stream.Slot(startSlot);
                for (int s = 0; s < initialResidual.Count; s++) initialResidual[s].CopyTo(slot[(rows[s].FirstRow * Width)..]);
            }
            for (int layer = startSlot; layer < Layers; layer++) RunBlock(layer, stream, sequences, hooks);
            Advance(sequences, tokens);
            if (hooks != null && hooks.Captures(HookId.FinalNormalized))
                hooks.Store(HookId.FinalNormalized, FinalNormUnlocked(stream.Slot(Layers)));
            return new ForwardResult(stream, ComputeLogits(stream, logits), VocabSize, logits, hooks?.Captured);
        }
    }

    private static void Advance(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens)
    {
        foreach (var (sequence, ids) in sequences.Zip(tokens))
        {
            sequence.Cache.Length += ids.Length;
            sequence.Tokens.AddRange(ids);
        }
    }

    private void ValidateTokenTypes(IReadOnlyList<int[]> tokens, IReadOnlyList<int[]>? tokenTypes)
    {
        if (tokenTypes == null) return;
        if (Weights.TokenTypeEmbedding == null)
            throw new NativeLayersException($"{Config.ModelType} models take no token types.");
        if (tokenTypes.Count != tokens.Count || tokens.Zip(tokenTypes).Any(p => p.First.Length != p.Second.Length))
            throw new NativeLayersException("token types must give one type per token of every sequence.");
        int types = Weights.TokenTypeEmbedding.Value.Rows;
        foreach (var t in tokenTypes.SelectMany(x => x))
            if ((uint)t >= (uint)types) throw new NativeLayersException($"token type {t} is outside 0..{types - 1}.");
    }

    /// <summary>Slot 0: token embedding (scaled), plus learned position and token-type embeddings, then the embedding norm.</summary>
    private void Embed(ResidualStream stream, IReadOnlyList<int[]> tokens, IReadOnlyList<int[]>? tokenTypes)
    {
        var positions = Weights.PositionEmbedding;
        var types = Weights.TokenTypeEmbedding;
        var extra = new float[Width];
        for (int s = 0; s < tokens.Count; s++)
        {
            var rows = stream.Sequences[s];
            for (int t = 0; t < rows.Count; t++)
            {
                int id = tokens[s][t], position = rows.FirstPosition + t;
                if ((uint)id >= (uint)VocabSize)
                    throw new NativeLayersException($"token id {id} is outside the vocabulary of {Folder.Directory} (0..{VocabSize - 1}).");
                var destination = stream.Row(0, rows.FirstRow + t);
                Weights.Embedding.ReadRow(id, destination);
                if (Spec.EmbeddingScale != 1f) TensorPrimitives.Multiply(destination, Spec.EmbeddingScale, destination);
                if (positions is { } p)
                {
                    if (position >= p.Rows)
                        throw new NativeLayersException($"position {position} is beyond the {p.Rows} learned positions of {Folder.Directory}; use shorter inputs.");
                    p.ReadRow(position, extra);
                    TensorPrimitives.Add(destination, extra, destination);
                }
                if (types is { } tt)
                {
                    tt.ReadRow(tokenTypes?[s][t] ?? 0, extra);
                    TensorPrimitives.Add(destination, extra, destination);
                }
            }
        }
        if (Weights.EmbeddingNorm != null)
        {
            float* slot0 = stream.SlotBuffer(0).Pointer;
            Normalize(Weights.EmbeddingNorm, slot0, slot0, stream.Rows);
        }
    }

    private void PrepareCaches(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens)
    {
        int longest = 0;
        for (int s = 0; s < sequences.Count; s++)
        {
            int end = sequences[s].Length + tokens[s].Length;
            sequences[s].Cache.EnsureCapacity(end);
            longest = Math.Max(longest, end);
        }
        _rope?.EnsurePositions(longest);
    }

    private void RunBlock(int layer, ResidualStream stream, IReadOnlyList<Sequence> sequences, HookRunner? hooks)
    {
        var block = Weights.Blocks[layer];
        int rows = stream.Rows, d = Width;
        long bytes = (long)rows * d * 4;
        float* input = stream.SlotBuffer(layer).Pointer;
        float* output = stream.SlotBuffer(layer + 1).Pointer;
        float* normed = _workspace.Get("normed", rows * d).Pointer;
        var residPre = new HookId(HookPoint.ResidPre, layer);
        var attnOut = new HookId(HookPoint.AttnOut, layer);
        var residMid = new HookId(HookPoint.ResidMid, layer);
        var mlpOut = new HookId(HookPoint.MlpOut, layer);
        var residPost = new HookId(HookPoint.ResidPost, layer);
        hooks?.Apply(residPre, input);
        switch (Spec.Layout)
        {
            case BlockLayout.PreNorm:
                Normalize(block.AttentionNorm, input, normed, rows);
                AddSubLayer(hooks, block.Output, Attend(layer, block, normed, stream, sequences), QueryWidth, input, output, rows, attnOut, residMid);
                hooks?.Apply(residMid, output);
                Normalize(block.MlpNorm, output, normed, rows);
                AddSubLayer(hooks, block.Down, Mlp(block, normed, rows), Config.IntermediateSize, output, output, rows, mlpOut, residPost);
                break;
            case BlockLayout.Parallel:
                Normalize(block.AttentionNorm, input, normed, rows);
                AddSubLayer(hooks, block.Output, Attend(layer, block, normed, stream, sequences), QueryWidth, input, output, rows, attnOut);
                Normalize(block.MlpNorm, input, normed, rows);
                AddSubLayer(hooks, block.Down, Mlp(block, normed, rows), Config.IntermediateSize, output, output, rows, mlpOut, residPost);
                break;
            case BlockLayout.PostNorm:
                float* middle = _workspace.Get("middle", rows * d).Pointer;
                AddSubLayer(hooks, block.Output, Attend(layer, block, input, stream, sequences), QueryWidth, input, normed, rows, attnOut);
                Normalize(block.AttentionNorm, normed, middle, rows);
                hooks?.Apply(residMid, middle);
                AddSubLayer(hooks, block.Down, Mlp(block, middle, rows), Config.IntermediateSize, middle, output, rows, mlpOut);
                Normalize(block.MlpNorm, output, output, rows);
                break;
        }
        hooks?.Apply(residPost, output);
    }

    /// <summary>
    /// target = residual + projection(activations): the residual addition every sub-layer ends with. Plain
    /// steering additions ride on the projection's bias; the sub-layer output gets its own buffer only when a
    /// hook must see or change it.
    /// </summary>
    private void AddSubLayer(HookRunner? hooks, Linear projection, float* activations, int inFeatures, float* residual, float* target,
        int rows, HookId output, params HookId[] folded)
    {
        int d = Width;
        long bytes = (long)rows * d * 4;
        var bias = hooks?.FoldedBias(projection, [output, .. folded]);
        if (hooks != null && hooks.NeedsRows(output))
        {
            var separate = _workspace.Get("sublayer", rows * d);
            projection.Apply(Pool, activations, inFeatures, rows, separate.Pointer, d, bias: bias);
            hooks.Apply(output, separate.Pointer);
            var sum = new Span<float>(target, rows * d);
            TensorPrimitives.Add(new ReadOnlySpan<float>(residual, rows * d), separate.Span[..(rows * d)], sum);
            return;
        }
        if (residual != target) Buffer.MemoryCopy(residual, target, bytes, bytes);
        projection.Apply(Pool, activations, inFeatures, rows, target, d, accumulate: true, bias: bias);
    }

    /// <summary>Self-attention of the (normalised) rows: projections, RoPE, cache append, attention. Returns [rows, heads·headDim].</summary>
    private float* Attend(int layer, BlockWeights block, float* source, ResidualStream stream, IReadOnlyList<Sequence> sequences)
    {
        int rows = stream.Rows, qkvWidth = QueryWidth + 2 * KvWidth;
        float* qkv = _workspace.Get("qkv", rows * qkvWidth).Pointer;
        float* attention = _workspace.Get("attention", rows * QueryWidth).Pointer;
        block.Qkv.Apply(Pool, source, Width, rows, qkv, qkvWidth);
        var attentionSequences = RotateAndCache(layer, stream, sequences, qkv, qkvWidth);
        var shape = new AttentionShape(Config.NumHeads, Config.NumKvHeads, Config.HeadDim, 1f / MathF.Sqrt(Config.HeadDim),
            Spec.Causal, Spec.SlidingWindow);
        Attention.Run(Pool, attentionSequences, qkv, qkvWidth, attention, QueryWidth, shape);
        return attention;
    }

    /// <summary>Rotates q and k of every new token in place and appends k and v to each sequence's cache.</summary>
    private AttentionSequence[] RotateAndCache(int layer, ResidualStream stream, IReadOnlyList<Sequence> sequences, float* qkv, int qkvWidth)
    {
        var result = new AttentionSequence[sequences.Count];
        int headDim = Config.HeadDim;
        for (int s = 0; s < sequences.Count; s++)
        {
            var rows = stream.Sequences[s];
            var cache = sequences[s].Cache;
            float* keys = cache.Keys(layer), values = cache.Values(layer);
            for (int t = 0; t < rows.Count; t++)
            {
                float* q = qkv + (long)(rows.FirstRow + t) * qkvWidth;
                float* k = q + QueryWidth;
                float* v = k + KvWidth;
                int position = rows.FirstPosition + t;
                if (_rope != null)
                {
                    Rope.Apply(q, Config.NumHeads, headDim, Spec.RotaryDim, _rope.Cos(position), _rope.Sin(position));
                    Rope.Apply(k, Config.NumKvHeads, headDim, Spec.RotaryDim, _rope.Cos(position), _rope.Sin(position));
                }
                Buffer.MemoryCopy(k, keys + (long)position * KvWidth, KvWidth * 4, KvWidth * 4);
                Buffer.MemoryCopy(v, values + (long)position * KvWidth, KvWidth * 4, KvWidth * 4);
            }
            result[s] = new AttentionSequence(rows.FirstRow, rows.Count, rows.FirstPosition, keys, values);
        }
        return result;
    }

    /// <summary>act(gate) · up (or act(up)) for every row; returns the [rows, intermediate] activations.</summary>
    private float* Mlp(BlockWeights block, float* normed, int rows)
    {
        int inter = Config.IntermediateSize, upWidth = block.Up.OutFeatures;
        float* up = _workspace.Get("up", rows * upWidth).Pointer;
        block.Up.Apply(Pool, normed, Width, rows, up, upWidth);
        float* hidden = Spec.GatedMlp ? _workspace.Get("hidden", rows * inter).Pointer : up;
        var activation = Spec.Activation;
        bool gated = Spec.GatedMlp;
        ForRows(rows, r =>
        {
            var gate = new Span<float>(up + (long)r * upWidth, inter);
            if (gated) Activations.ApplyGated(activation, gate, new Span<float>(up + (long)r * upWidth + inter, inter), new Span<float>(hidden + (long)r * inter, inter));
            else Activations.Apply(activation, gate);
        });
        if (block.MlpInnerNorm is { } inner)
            ForRows(rows, r => Norms.LayerNorm(hidden + (long)r * inter, inter, hidden + (long)r * inter, inter, 1, inter,
                inner.Weight.Pointer, inner.Bias == null ? null : inner.Bias.Pointer, Spec.NormEps));
        return hidden;
    }

    private void Normalize(NormWeights norm, float* input, float* output, int rows)
    {
        int d = Width;
        float eps = Spec.NormEps;
        float* weight = norm.Weight.Pointer, bias = norm.Bias == null ? null : norm.Bias.Pointer;
        var kind = Spec.Norm;
        ForRows(rows, r =>
        {
            if (kind == NormKind.RmsNorm) Norms.RmsNorm(input + (long)r * d, d, output + (long)r * d, d, 1, d, weight, eps);
            else Norms.LayerNorm(input + (long)r * d, d, output + (long)r * d, d, 1, d, weight, bias, eps);
        });
    }

    /// <summary>Runs a per-row body in parallel chunks when there are enough rows to be worth it.</summary>
    private void ForRows(int rows, Action<int> body)
    {
        const int rowsPerPart = 16;
        if (rows < 2 * rowsPerPart)
        {
            for (int r = 0; r < rows; r++) body(r);
            return;
        }
        Pool.For((rows + rowsPerPart - 1) / rowsPerPart, part =>
        {
            int end = Math.Min(rows, (part + 1) * rowsPerPart);
            for (int r = part * rowsPerPart; r < end; r++) body(r);
        });
    }

    private float[]? ComputeLogits(ResidualStream stream, LogitsMode mode)
    {
        if (mode == LogitsMode.None) return null;
        int d = Width;
        float* last = stream.SlotBuffer(Layers).Pointer;
        int[] sourceRows = mode == LogitsMode.All
            ? Enumerable.Range(0, stream.Rows).ToArray()
            : stream.Sequences.Select(s => s.FirstRow + s.Count - 1).ToArray();
        int n = sourceRows.Length;
        float* gathered = _workspace.Get("final", n * d).Pointer;
        for (int i = 0; i < n; i++)
            Buffer.MemoryCopy(last + (long)sourceRows[i] * d, gathered + (long)i * d, d * 4, d * 4);
        if (Weights.FinalNorm != null) Normalize(Weights.FinalNorm, gathered, gathered, n);
        var logits = new PinnedBuffer(n * VocabSize);
        Weights.Head!.Apply(Pool, gathered, d, n, logits.Pointer, VocabSize);
        return logits.Array;
    }

    /// <summary>The final norm applied to rows of a slot (what Hugging Face reports as the last hidden state); a copy for models without one.</summary>
    public float[] FinalNorm(ReadOnlySpan<float> rows)
    {
        lock (_forwardLock) return FinalNormUnlocked(rows);
    }

    private float[] FinalNormUnlocked(ReadOnlySpan<float> rows)
    {
        var result = new PinnedBuffer(rows.Length);
        rows.CopyTo(result.Span);
        if (Weights.FinalNorm != null) Normalize(Weights.FinalNorm, result.Pointer, result.Pointer, rows.Length / Width);
        return result.Array;
    }

    /// <summary>BERT's pooled output per sequence: tanh(dense(last slot at the first token)); [sequences, width].</summary>
    public float[] PooledOutput(ResidualStream stream)
    {
        var pooler = Weights.Pooler ?? throw new NativeLayersException($"{Folder.Directory} has no pooler.");
        int n = stream.Sequences.Count;
        var first = new PinnedBuffer(n * Width);
        for (int s = 0; s < n; s++) stream.Row(-1, stream.Sequences[s].FirstRow).CopyTo(first.Span.Slice(s * Width, Width));
        var pooled = new PinnedBuffer(n * Width);
        pooler.Apply(Pool, first.Pointer, Width, n, pooled.Pointer, Width);
        TensorPrimitives.Tanh(pooled.Span, pooled.Span);
        return pooled.Array;
    }

    public void Dispose()
    {
        _device?.Dispose();
        if (_ownsPool) Pool.Dispose();
        Folder.Dispose();
    }
}
