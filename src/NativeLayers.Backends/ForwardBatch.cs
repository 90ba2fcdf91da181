namespace NativeLayers.Backends;

/// <summary>Where one sequence's tokens sit in the rows of a batch, and the position of its first new token.</summary>
public readonly record struct SequenceRows(int FirstRow, int Count, int FirstPosition);

/// <summary>
/// The rows of one forward call: sequences back to back (no padding), each with its KV cache, and the position of
/// every row. Backends may keep per-call uploads keyed by this object (it lives for one call).
/// </summary>
public sealed class ForwardBatch
{
    public ForwardBatch(IReadOnlyList<SequenceRows> sequences, IReadOnlyList<KvCache> caches)
    {
        if (sequences.Count != caches.Count) throw new ArgumentException("one KV cache per sequence.");
        Sequences = sequences;
        Caches = caches;
        Rows = sequences.Sum(s => s.Count);
        Positions = new int[Rows];
        foreach (var s in sequences)
            for (int t = 0; t < s.Count; t++) Positions[s.FirstRow + t] = s.FirstPosition + t;
    }

    public IReadOnlyList<SequenceRows> Sequences { get; }
    public IReadOnlyList<KvCache> Caches { get; }
    public int Rows { get; }
    /// <summary>Position of every row (the row's token index within its sequence).</summary>
    public int[] Positions { get; }
}
