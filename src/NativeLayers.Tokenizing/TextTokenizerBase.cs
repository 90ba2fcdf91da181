namespace NativeLayers.Tokenizing;

/// <summary>What every tokenizer shares: the default Encode overload and continuation decoding.</summary>
internal abstract class TextTokenizerBase : ITextTokenizer
{
    public abstract string Description { get; }
    public abstract int VocabSize { get; }
    public abstract int? BosId { get; }
    public abstract int? EosId { get; }
    public abstract bool AddsBos { get; }

    public int[] Encode(string text) => Encode(text, addSpecialTokens: true);

    public abstract int[] Encode(string text, bool addSpecialTokens);

    public abstract string Decode(IReadOnlyList<int> ids);

    public abstract string TokenText(int id);

    /// <summary>The bytes an id contributes to decoded text (empty for tokens Decode skips).</summary>
    protected abstract ReadOnlySpan<byte> TokenBytes(int id);

    protected static string UnknownIdText(int id) => $"<id {id}?>";

    public string DecodeContinuation(IReadOnlyList<int> prefixIds, IReadOnlyList<int> newIds)
    {
        ArgumentNullException.ThrowIfNull(prefixIds);
        ArgumentNullException.ThrowIfNull(newIds);
        var all = new List<int>(prefixIds.Count + newIds.Count);
        all.AddRange(prefixIds);
        all.AddRange(newIds);
        string before = StableText(prefixIds);
        string after = StableText(all);
        if (after.StartsWith(before, StringComparison.Ordinal))
            return after[before.Length..];
        int common = 0;
        while (common < before.Length && common < after.Length && before[common] == after[common])
            common++;
        return after[common..];
    }

    /// <summary>
    /// Decode of the ids without the trailing tokens that hold an unfinished multi-byte character, which decoders
    /// write as U+FFFD (ByteFallback even turns the whole run of byte tokens into U+FFFD until the character is complete).
    /// </summary>
    private string StableText(IReadOnlyList<int> ids)
    {
        int tailBytes = IncompleteTailBytes(ids);
        if (tailBytes == 0)
            return Decode(ids);
        int drop = 0, covered = 0;
        while (covered < tailBytes && drop < ids.Count)
        {
            covered += TokenBytes(ids[ids.Count - 1 - drop]).Length;
            drop++;
        }
        return Decode(ids.Take(ids.Count - drop).ToList());
    }

    /// <summary>The number of bytes of an unfinished UTF-8 character at the end of the ids' bytes (0 when none).</summary>
    private int IncompleteTailBytes(IReadOnlyList<int> ids)
    {
        var tail = new List<byte>(8);
        for (int i = ids.Count - 1; i >= 0 && tail.Count < 4; i--)
            tail.InsertRange(0, TokenBytes(ids[i]).ToArray());
        return Utf8Tail.IncompleteLength(tail);
    }
}
