using NativeLayers.Backends.Cpu;

namespace NativeLayers.Runtime.Generation;

/// <summary>
/// One sequence being continued: its seeded sampler, the tokens it has made and when it stops. The batched
/// <see cref="Generator"/> and the continuously batched <see cref="Serving.InferenceEngine"/> both sample through it,
/// so a request and a generated prompt with the same settings draw the same tokens.
/// </summary>
public sealed class SequenceDecoder(float temperature, int topK, float topP, int seed, IReadOnlySet<int> stopTokens, int maxNewTokens)
{
    private readonly Random _random = new(seed);
    private readonly List<int> _produced = [];

    public IReadOnlyList<int> Produced => _produced;
    /// <summary>Why the sequence ended; null while it runs.</summary>
    public StopReason? Stopped { get; private set; }

    /// <summary>Chooses the next token from the logits after the sequence's newest token and records it.</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        if (Stopped != null) throw new InvalidOperationException("the sequence has stopped.");
        int token = Sampling.Sample(logits, temperature, topK, topP, _random);
        _produced.Add(token);
        if (stopTokens.Contains(token)) Stopped = StopReason.EndOfSequence;
        else if (_produced.Count >= maxNewTokens) Stopped = StopReason.MaxTokens;
        return token;
    }

    /// <summary>Ends the sequence for a reason found outside the tokens (a stop string in the decoded text).</summary>
    public void Stop(StopReason reason) => Stopped ??= reason;
}
