using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;
using NativeLayers.Runtime.Models;
using NativeLayers.Tokenizing;

namespace NativeLayers.Runtime;

/// <summary>Settings of a loaded model.</summary>
public sealed record RuntimeOptions
{
    /// <summary>Worker threads for the CPU kernels; 0 = one per core.</summary>
    public int Threads { get; init; }
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
        Weights = recipe.Bind(new WeightBinder(folder.Weights, Config), Config);
        if (Spec.RotaryDim > 0)
            _rope = new RopeTable(Spec.RotaryDim, Spec.RopeTheta, Spec.RopeScaling, Math.Min(Config.MaxPositions, 4096));
        _ownsPool = options.Threads > 0;
        Pool = _ownsPool ? new WorkerPool(options.Threads) : WorkerPool.Default;
    }

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

    /// <summary>Runs fresh sequences (no cache kept) and returns every slot of the residual stream.</summary>
    public ForwardResult Forward(IReadOnlyList<int[]> batch, LogitsMode logits = LogitsMode.All)
    {
        var sequences = batch.Select(b => NewSequence(b.Length)).ToArray();
        return Forward(sequences, batch, logits);
    }

    /// <summary>
    /// Appends tokens[i] to sequences[i] (prefill or decode, any mix of lengths), extending their KV caches.
    /// </summary>
    public ForwardResult Forward(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens, LogitsMode logits)
    {
        if (sequences.Count != tokens.Count)
            throw new ArgumentException($"{sequences.Count} sequences but {tokens.Count} token lists.");
        lock (_forwardLock)
        {
            var rows = new List<SequenceRows>();
            int next = 0;
            for (int s = 0; s < sequences.Count; s++)
            {
                rows.Add(new SequenceRows(next, tokens[s].Length, sequences[s].Length));
                next += tokens[s].Length;
            }
            var stream = new ResidualStream(Layers, Width, rows);
            Embed(stream, tokens);
            PrepareCaches(sequences, tokens);
            for (int layer = 0; layer < Layers; layer++) RunBlock(layer, stream, sequences);
            foreach (var (sequence, ids) in sequences.Zip(tokens))
            {
                sequence.Cache.Length += ids.Length;
                sequence.Tokens.AddRange(ids);
            }
            return new ForwardResult(stream, ComputeLogits(stream, logits), VocabSize, logits);
        }
    }

    private void Embed(ResidualStream stream, IReadOnlyList<int[]> tokens)
    {
        int row = 0;
        foreach (var ids in tokens)
            foreach (int id in ids)
            {
                if ((uint)id >= (uint)VocabSize)
                    throw new NativeLayersException($"token id {id} is outside the vocabulary of {Folder.Directory} (0..{VocabSize - 1}).");
                var destination = stream.Row(0, row++);
                Weights.Embedding.ReadRow(id, destination);
                if (Spec.EmbeddingScale != 1f)
                    System.Numerics.Tensors.TensorPrimitives.Multiply(destination, Spec.EmbeddingScale, destination);
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

    private void RunBlock(int layer, ResidualStream stream, IReadOnlyList<Sequence> sequences)
    {
        var block = Weights.Blocks[layer];
        int rows = stream.Rows, d = Width;
        int qkvWidth = QueryWidth + 2 * KvWidth;
        float* input = stream.SlotBuffer(layer).Pointer;
        float* output = stream.SlotBuffer(layer + 1).Pointer;
        float* normed = _workspace.Get("normed", rows * d).Pointer;
        float* qkv = _workspace.Get("qkv", rows * qkvWidth).Pointer;
        float* attention = _workspace.Get("attention", rows * QueryWidth).Pointer;

        Normalize(block.AttentionNorm, input, normed, rows);
        block.Qkv.Apply(Pool, normed, d, rows, qkv, qkvWidth);
        var attentionSequences = RotateAndCache(layer, stream, sequences, qkv, qkvWidth);
        var shape = new AttentionShape(Config.NumHeads, Config.NumKvHeads, Config.HeadDim, 1f / MathF.Sqrt(Config.HeadDim),
            Spec.Causal, Spec.SlidingWindow);
        Attention.Run(Pool, attentionSequences, qkv, qkvWidth, attention, QueryWidth, shape);

        Buffer.MemoryCopy(input, output, (long)rows * d * 4, (long)rows * d * 4);
        block.Output.Apply(Pool, attention, QueryWidth, rows, output, d, accumulate: true);

        Normalize(block.MlpNorm, output, normed, rows);
        float* hidden = Mlp(block, normed, rows);
        block.Down.Apply(Pool, hidden, Config.IntermediateSize, rows, output, d, accumulate: true);
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
        Normalize(Weights.FinalNorm, gathered, gathered, n);
        var logits = new PinnedBuffer(n * VocabSize);
        Weights.Head.Apply(Pool, gathered, d, n, logits.Pointer, VocabSize);
        return logits.Array;
    }

    /// <summary>The final norm applied to rows of a slot (what Hugging Face reports as the last hidden state).</summary>
    public float[] FinalNorm(ReadOnlySpan<float> rows)
    {
        int n = rows.Length / Width;
        var result = new PinnedBuffer(rows.Length);
        rows.CopyTo(result.Span);
        lock (_forwardLock) Normalize(Weights.FinalNorm, result.Pointer, result.Pointer, n);
        return result.Array;
    }

    public void Dispose()
    {
        if (_ownsPool) Pool.Dispose();
        Folder.Dispose();
    }
}
