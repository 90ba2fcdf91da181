using NativeLayers.Backends;

namespace NativeLayers.Runtime;

/// <summary>A sequence being run incrementally: its tokens so far and their cached keys and values (kept by the model's backend).</summary>
public sealed class Sequence
{
    internal Sequence(KvCache cache) => Cache = cache;

    public KvCache Cache { get; }
    public List<int> Tokens { get; } = [];
    public int Length => Cache.Length;
    /// <summary>Tokens given in the first forward call (the prompt); later tokens count as generated.</summary>
    public int? PromptLength { get; internal set; }
}
