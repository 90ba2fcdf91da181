using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;
using NativeLayers.Runtime.ForwardPass;
using NativeLayers.Runtime.Models;
using NativeLayers.Tokenizing;

namespace NativeLayers.Runtime;

/// <summary>Settings of a loaded model.</summary>
public sealed record RuntimeOptions
{
    /// <summary>Worker threads for the CPU backend; 0 = one per core.</summary>
    public int Threads { get; init; }
    /// <summary>
    /// Makes the backend the model computes on (the host composes it: the CLI picks CPU or GPU); null = the SIMD CPU
    /// backend with <see cref="Threads"/> workers. The model owns and disposes what it returns.
    /// </summary>
    public Func<IComputeBackend>? Backend { get; init; }
    /// <summary>
    /// Load a folder whose weight files hold tensors the model does not use (by default an error naming the first:
    /// it usually means config.json does not describe the weights, e.g. fewer layers than the file has).
    /// </summary>
    public bool AllowUnusedTensors { get; init; }
}

/// <summary>
/// A loaded model ready to run: weights memory-mapped, one forward pass driven by the architecture's recipe over a
/// backend's ops, and the residual stream as the buffer every block reads from and writes to. Calls are serialised
/// (one forward at a time per instance); batch sequences instead of calling from several threads.
/// </summary>
public sealed class Transformer : IDisposable
{
    private readonly object _forwardLock = new();
    private ITextTokenizer? _tokenizer;
    private readonly WeightBinder _binder; // owns re-laid-out weights (transposed / permuted copies)
    private readonly ForwardDriver _driver;

    public ModelFolder Folder { get; }
    public ModelConfig Config { get; }
    public ArchitectureSpec Spec { get; }
    public ModelWeights Weights { get; }
    /// <summary>What hook points, steering plans and captures are checked against.</summary>
    public ModelShape Shape { get; }
    /// <summary>The op provider this model computes on.</summary>
    public IComputeBackend Backend { get; }

    public int Layers => Config.NumLayers;
    public int Width => Config.HiddenSize;
    public int VocabSize => Config.VocabSize;
    private int KvWidth => Config.NumKvHeads * Config.HeadDim;

    /// <summary>Where this model runs.</summary>
    public DeviceKind Device => Backend.Kind;

    private Transformer(ModelFolder folder, RuntimeOptions options)
    {
        Folder = folder;
        Config = folder.Config;
        var recipe = ModelRecipes.For(Config);
        Spec = recipe.Spec(Config);
        _binder = new WeightBinder(folder.Weights, Config, [.. recipe.NamePrefixes]);
        Weights = recipe.Bind(_binder, Config);
        if (!options.AllowUnusedTensors) RequireEveryTensorUsed(recipe);
        Shape = new ModelShape(Config.NumLayers, Config.HiddenSize, Spec.Layout, Config.ModelType,
            Weights.Blocks.Any(b => b.AttentionOutputNorm != null || b.MlpOutputNorm != null), Weights.Blocks.Any(b => b.Experts != null));
        Backend = options.Backend?.Invoke() ?? new CpuBackend(options.Threads);
        try
        {
            _driver = new ForwardDriver(Backend, Config, Spec, Weights, Shape, folder.Directory);
        }
        catch
        {
            Backend.Dispose();
            throw;
        }
    }

    private void RequireEveryTensorUsed(IModelRecipe recipe)
    {
        var unused = _binder.Unused([.. WeightBinder.KnownBuffers, .. recipe.IgnorableTensors]);
        if (unused.Count == 0) return;
        var first = unused[0];
        string more = unused.Count > 1 ? $" ({unused.Count} unused tensors in all, e.g. {string.Join(", ", unused.Skip(1).Take(3).Select(t => $"'{t.Name}'"))})" : "";
        string layers = System.Text.RegularExpressions.Regex.Match(first.Name, @"(?:^|\.)(?:layers|h|layer)\.(\d+)\.") is { Success: true } m
            && int.Parse(m.Groups[1].Value) >= Config.NumLayers
            ? $" The file has more layers than config.json's num_hidden_layers ({Config.NumLayers})."
            : "";
        throw new ModelFileException(first.File.Path,
            $"tensor '{first.Name}' is not used by a {Config.ModelType} model as config.json describes it{more}.{layers} " +
            "Fix config.json, or pass --allow-unused-tensors (RuntimeOptions.AllowUnusedTensors) to load it anyway.");
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

    /// <summary>A fresh sequence: a KV cache on this model's backend, or a recurrent state for a state-space model.</summary>
    public Sequence NewSequence(int expectedLength = 64) => new(Weights.Blocks[0].Mixer is { } mixer
        ? new RecurrentState(Backend, Layers, mixer.Scan)
        : Backend.CreateKvCache(Layers, KvWidth, expectedLength));

    /// <summary>A sequence run once and dropped: the backend need not keep its keys and values.</summary>
    private Sequence OneShotSequence(int length)
    {
        var sequence = NewSequence(length);
        sequence.Cache.Transient = true;
        return sequence;
    }

    public bool HasLanguageModelHead => Weights.Head != null;

    /// <summary>Logits for every token when the model has a head, none otherwise (encoders).</summary>
    public LogitsMode DefaultLogits => HasLanguageModelHead ? LogitsMode.All : LogitsMode.None;

    /// <summary>Runs fresh sequences (no cache kept) and returns every slot of the residual stream.</summary>
    public ForwardResult Forward(IReadOnlyList<int[]> batch, LogitsMode? logits = null, IReadOnlyList<int[]>? tokenTypes = null) =>
        Forward(batch, new ForwardOptions { Logits = logits, TokenTypes = tokenTypes });

    public ForwardResult Forward(IReadOnlyList<int[]> batch, ForwardOptions options) =>
        Forward(batch.Select(b => OneShotSequence(b.Length)).ToArray(), batch, options);

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
        var sequences = tokens.Select(t => OneShotSequence(t.Length)).ToArray();
        return Run(sequences, tokens, options ?? new ForwardOptions(), startSlot, residual);
    }

    private ForwardResult Run(IReadOnlyList<Sequence> sequences, IReadOnlyList<int[]> tokens, ForwardOptions options, int startSlot, IReadOnlyList<float[]>? initialResidual)
    {
        var logits = options.Logits ?? (options.StopAtSlot is { } stop && stop < Layers ? LogitsMode.None : DefaultLogits);
        if (options.StopAtSlot is { } last)
        {
            if (last < startSlot || last > Layers)
                throw new NativeLayersException($"cannot stop at slot {last}: the forward runs slots {startSlot}..{Layers} of this model.");
            if (last < Layers && logits != LogitsMode.None)
                throw new NativeLayersException($"a forward that stops at slot {last} (before the last block) makes no logits; ask for LogitsMode.None.");
            if (last < Layers && sequences.Any(s => !s.Cache.Transient))
                throw new NativeLayersException($"a forward that stops at slot {last} would leave the later blocks' KV caches without these tokens; " +
                    "stop early only in Forward(batch, options) or ForwardFrom, whose sequences keep no cache.");
            var late = (options.Capture ?? []).Where(h => h.Slot < 0 && (h == Hooks.HookId.FinalNormalized || (!h.IsModelLevel && h.Layer >= last))).ToList();
            if (last < Layers && late.Count > 0)
                throw new NativeLayersException($"cannot capture {late[0].Name} in a forward that stops at slot {last}: its block does not run.");
        }
        if (logits != LogitsMode.None && !HasLanguageModelHead)
            throw new NativeLayersException($"{Folder.Directory} ({Config.ModelType}) has no language-model head, so it gives no logits.");
        lock (_forwardLock) return _driver.Run(sequences, tokens, options, logits, startSlot, initialResidual);
    }

    /// <summary>The final norm applied to rows of a slot (what Hugging Face reports as the last hidden state); a copy for models without one.</summary>
    public float[] FinalNorm(ReadOnlySpan<float> rows)
    {
        lock (_forwardLock) return _driver.FinalNorm(rows);
    }

    /// <summary>BERT's pooled output per sequence: tanh(dense(last slot at the first token)); [sequences, width].</summary>
    public float[] PooledOutput(ResidualStream stream)
    {
        lock (_forwardLock) return _driver.PooledOutput(stream);
    }

    public void Dispose()
    {
        _driver.Dispose();
        Backend.Dispose();
        Folder.Dispose();
    }
}
