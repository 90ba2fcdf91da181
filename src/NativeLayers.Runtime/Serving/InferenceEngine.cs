using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Serving;

/// <summary>
/// Continuous batching over one model: requests join the running batch between steps and leave it as soon as they
/// end, so every forward call decodes one token for each running sequence (and prefills a chunk of new prompts).
/// Every sequence keeps its own steering rows, capture plan and sampler: one ragged forward call carries them all,
/// with no grouping by configuration. Submissions past the configured limits are refused at once
/// (<see cref="EngineBusyException"/>), which is the caller's backpressure.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private readonly Transformer _model;
    private readonly EngineOptions _options;
    private readonly object _gate = new();
    private readonly Queue<Entry> _queue = new();
    private readonly Thread _loop;
    private bool _disposed;
    private int _running;
    private long _reserved, _admitted, _refused, _generated, _promptTokens, _steps, _stepRows;

    public InferenceEngine(Transformer model, EngineOptions? options = null)
    {
        _model = model;
        _options = options ?? new EngineOptions();
        _options.Validate();
        _loop = new Thread(Loop) { IsBackground = true, Name = "nl-inference-engine" };
        _loop.Start();
    }

    public Transformer Model => _model;
    public EngineOptions Options => _options;

    public EngineStatistics Statistics
    {
        get
        {
            lock (_gate)
                return new EngineStatistics(_running, _queue.Count, _reserved, _admitted, _refused, Interlocked.Read(ref _generated),
                    Interlocked.Read(ref _promptTokens), Interlocked.Read(ref _steps), Interlocked.Read(ref _stepRows));
        }
    }

    /// <summary>
    /// Queues a request and returns its tokens as they are made. Invalid requests throw <see cref="NativeLayersException"/>
    /// here, and a full engine <see cref="EngineBusyException"/>; cancelling <paramref name="cancellation"/> (or leaving the
    /// enumeration early) takes the sequence out of the batch at the next step.
    /// </summary>
    public IAsyncEnumerable<GeneratedToken> Submit(InferenceRequest request, CancellationToken cancellation = default)
    {
        var entry = Admit(request);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Free places in the batch take requests at the next step, so they do not count as waiting.
            string? busy = _queue.Count >= _options.MaxQueued + Math.Max(0, _options.MaxBatch - _running) ? $"the queue is full ({_options.MaxQueued} requests waiting)"
                : _reserved + entry.Reserved > _options.MaxTokensInFlight ? $"{_reserved} of {_options.MaxTokensInFlight} tokens in flight are taken and this request needs {entry.Reserved}"
                : null;
            if (busy != null)
            {
                _refused++;
                throw new EngineBusyException($"the server is busy: {busy}; try again shortly.");
            }
            _reserved += entry.Reserved;
            _queue.Enqueue(entry);
            Monitor.Pulse(_gate);
        }
        entry.Registration = cancellation.Register(() => Cancel(entry));
        return Read(entry, cancellation);
    }

    private async IAsyncEnumerable<GeneratedToken> Read(Entry entry, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        try
        {
            await foreach (var token in entry.Output.Reader.ReadAllAsync(cancellation)) yield return token;
        }
        finally
        {
            Cancel(entry);
            entry.Registration.Dispose();
        }
    }

    private void Cancel(Entry entry)
    {
        if (entry.Output.Reader.Completion.IsCompleted) return;
        entry.Cancelled = true;
        lock (_gate) Monitor.Pulse(_gate);
    }

    /// <summary>Checks a request against the model before it can wait anywhere, and makes its state.</summary>
    private Entry Admit(InferenceRequest request)
    {
        var prompt = request.PromptIds ?? throw new NativeLayersException("a request needs prompt ids.");
        if (prompt.Length == 0) throw new NativeLayersException("the prompt has no tokens; give at least one.");
        if (prompt.FirstOrDefault(id => (uint)id >= (uint)_model.VocabSize, -1) is var bad and not -1)
            throw new NativeLayersException($"token id {bad} is outside the vocabulary (0..{_model.VocabSize - 1}).");
        if (request.MaxTokens < 1) throw new NativeLayersException($"max tokens must be ≥ 1, got {request.MaxTokens}.");
        new GenerationOptions { MaxNewTokens = request.MaxTokens, Temperature = request.Temperature, TopK = request.TopK, TopP = request.TopP }.Validate();
        if (request.TopLogprobs is < 0) throw new NativeLayersException($"top logprobs must be ≥ 0, got {request.TopLogprobs}.");
        long reserved = (long)prompt.Length + request.MaxTokens;
        if (reserved > _model.Config.MaxPositions)
            throw new NativeLayersException($"the prompt ({prompt.Length} tokens) plus {request.MaxTokens} new tokens would run past the model's {_model.Config.MaxPositions} positions; ask for fewer tokens or shorten the prompt.");
        if (reserved > _options.MaxTokensInFlight)
            throw new NativeLayersException($"the prompt ({prompt.Length} tokens) plus {request.MaxTokens} new tokens is more than the {_options.MaxTokensInFlight} tokens this engine holds in flight.");
        if (request.StopStrings.Count > 0 && !_model.HasTokenizer)
            throw new NativeLayersException("stop strings need text, and this model has no tokenizer; stop on token ids instead.");
        if (request.StopStrings.Any(string.IsNullOrEmpty)) throw new NativeLayersException("stop strings must not be empty.");
        request.Steering?.Validate(_model.Shape);
        RequestCapture? capture = null;
        if (request.Capture is { } plan)
        {
            foreach (var hook in plan.Hooks) HookId.RequireExists(hook, _model.Shape, "cannot capture");
            capture = new RequestCapture(plan, prompt.Length);
        }
        var stops = new HashSet<int>(request.StopTokens ?? _model.Folder.EosTokenIds);
        var sequence = _model.NewSequence(prompt.Length + Math.Min(request.MaxTokens, 64));
        sequence.PromptLength = prompt.Length; // the prompt may arrive in several chunks
        return new Entry(request, sequence, new SequenceDecoder(request.Temperature, request.TopK, request.TopP, request.Seed, stops, request.MaxTokens),
            capture, new StopStringMatcher(request.StopStrings), reserved);
    }

    private void Loop()
    {
        var running = new List<Entry>();
        while (true)
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    foreach (var entry in running.Concat(_queue)) entry.Output.Writer.TryComplete(new ObjectDisposedException(nameof(InferenceEngine)));
                    return;
                }
                while (running.Count < _options.MaxBatch && _queue.TryDequeue(out var next))
                {
                    running.Add(next);
                    _admitted++;
                }
                _running = running.Count;
                if (running.Count == 0)
                {
                    Monitor.Wait(_gate);
                    continue;
                }
            }
            Step(running);
        }
    }

    /// <summary>One forward call: a decode row for every sequence past its prompt, and prompt chunks within the prefill budget.</summary>
    private void Step(List<Entry> running)
    {
        foreach (var entry in running.Where(e => e.Cancelled).ToList()) Finish(running, entry, null);
        var stepping = new List<Entry>();
        var tokens = new List<int[]>();
        int budget = _options.PrefillChunkTokens;
        foreach (var entry in running)
        {
            int remaining = entry.Request.PromptIds.Length - entry.Prefilled;
            if (remaining == 0) tokens.Add([entry.Decoder.Produced[^1]]);
            else if (budget > 0)
            {
                int take = Math.Min(remaining, budget);
                budget -= take;
                tokens.Add(entry.Request.PromptIds[entry.Prefilled..(entry.Prefilled + take)]);
            }
            else continue;
            stepping.Add(entry);
        }
        if (stepping.Count == 0) return;

        ForwardResult result;
        try
        {
            var captured = stepping.Where(e => e.Capture != null).SelectMany(e => e.Capture!.Hooks).Distinct().ToList();
            result = _model.Forward(stepping.Select(e => e.Sequence).ToArray(), tokens, new ForwardOptions
            {
                Logits = LogitsMode.LastPerSequence,
                SequenceSteering = stepping.Select(e => e.Request.Steering).ToArray(),
                Capture = captured.Where(h => h.Slot < 0).ToList(),
                HostSlots = captured.Where(h => h.Slot >= 0).Select(h => h.Slot).ToHashSet(),
            });
        }
        catch (Exception e)
        {
            foreach (var entry in stepping) Finish(running, entry, e);
            return;
        }
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _stepRows, tokens.Sum(t => t.Length));

        for (int i = 0; i < stepping.Count; i++)
        {
            var entry = stepping[i];
            bool prefilling = entry.Prefilled < entry.Request.PromptIds.Length;
            if (prefilling)
            {
                entry.Prefilled += tokens[i].Length;
                Interlocked.Add(ref _promptTokens, tokens[i].Length);
            }
            bool samples = entry.Prefilled == entry.Request.PromptIds.Length;
            try
            {
                entry.Capture?.Read(result, i, samples);
                if (samples) Emit(entry, result.LastLogits(i));
            }
            catch (Exception e)
            {
                Finish(running, entry, e);
                continue;
            }
            if (entry.Decoder.Stopped != null) Finish(running, entry, null);
        }
    }

    /// <summary>Chooses the entry's next token and hands it to the reader with its text, log-probabilities and captures.</summary>
    private void Emit(Entry entry, ReadOnlySpan<float> logits)
    {
        if (!TensorPrimitives.IsFiniteAll(logits)) throw NonFiniteOutputs.Diagnose(_model, [.. entry.Request.PromptIds, .. entry.Decoder.Produced]);
        int token = entry.Decoder.Next(logits);
        Interlocked.Increment(ref _generated);
        string piece = Piece(entry, token);
        TokenLogprobs? logprobs = null;
        if (entry.Request.TopLogprobs is { } top)
        {
            int[] alternatives = top > 0 ? Sampling.MostProbable(logits, Math.Min(top, logits.Length)) : [];
            var values = Sampling.LogProbabilities(logits, [token, .. alternatives]);
            logprobs = new TokenLogprobs(piece, values[0], alternatives.Select((id, k) => new TopLogprob(id, Piece(entry, id), values[k + 1])).ToArray());
        }
        entry.TextIds.Add(token);
        string text = entry.Stops.Push(piece);
        if (entry.Stops.Matched) entry.Decoder.Stop(StopReason.EndOfSequence);
        var stopped = entry.Decoder.Stopped;
        if (stopped != null) text += entry.Stops.Flush();
        FinishReason? finish = stopped switch { null => null, StopReason.MaxTokens => FinishReason.Length, _ => FinishReason.Stop };
        entry.Output.Writer.TryWrite(new GeneratedToken(token, text, logprobs, entry.Capture?.Take(stopped != null) ?? [], finish));
    }

    /// <summary>The text <paramref name="token"/> adds after the entry's prompt and tokens so far.</summary>
    private string Piece(Entry entry, int token) => _model.HasTokenizer ? _model.Tokenizer.DecodeContinuation(entry.TextIds, [token]) : "";

    private void Finish(List<Entry> running, Entry entry, Exception? error)
    {
        running.Remove(entry);
        entry.Output.Writer.TryComplete(error);
        entry.Sequence.Cache.Dispose();
        lock (_gate)
        {
            _reserved -= entry.Reserved;
            _running = running.Count;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
        _loop.Join();
    }

    /// <summary>A request's state while it waits or runs.</summary>
    private sealed class Entry(InferenceRequest request, Sequence sequence, SequenceDecoder decoder, RequestCapture? capture, StopStringMatcher stops, long reserved)
    {
        public InferenceRequest Request { get; } = request;
        public Sequence Sequence { get; } = sequence;
        public SequenceDecoder Decoder { get; } = decoder;
        public RequestCapture? Capture { get; } = capture;
        public StopStringMatcher Stops { get; } = stops;
        public long Reserved { get; } = reserved;
        public Channel<GeneratedToken> Output { get; } = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true });
        /// <summary>Prompt and produced ids: the prefix the next token's text continues.</summary>
        public List<int> TextIds { get; } = [.. request.PromptIds];
        public int Prefilled { get; set; }
        public volatile bool Cancelled;
        public CancellationTokenRegistration Registration { get; set; }
    }
}
