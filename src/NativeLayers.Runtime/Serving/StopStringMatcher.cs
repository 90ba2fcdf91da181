namespace NativeLayers.Runtime.Serving;

/// <summary>
/// Finds stop strings in text that arrives piece by piece. Text that could still be the start of a stop string is
/// held back, so what has been handed out never contains (part of) a stop string that later completes.
/// </summary>
internal sealed class StopStringMatcher(IReadOnlyList<string> stops)
{
    private string _pending = "";

    public bool Matched { get; private set; }

    /// <summary>Adds a piece and returns the text now safe to hand out (up to a stop string, which ends the text).</summary>
    public string Push(string piece)
    {
        if (Matched) return "";
        if (stops.Count == 0) return piece;
        _pending += piece;
        int cut = -1;
        foreach (var stop in stops)
            if (_pending.IndexOf(stop, StringComparison.Ordinal) is var at and >= 0 && (cut < 0 || at < cut)) cut = at;
        if (cut >= 0)
        {
            Matched = true;
            return Take(cut);
        }
        return Take(SafeLength());
    }

    /// <summary>The held-back text, when the sequence ends for another reason.</summary>
    public string Flush() => Matched ? "" : Take(_pending.Length);

    /// <summary>The longest prefix of the pending text after which no stop string can begin.</summary>
    private int SafeLength()
    {
        for (int start = 0; start < _pending.Length; start++)
        {
            var tail = _pending.AsSpan(start);
            foreach (var stop in stops)
                if (stop.Length > tail.Length && stop.AsSpan().StartsWith(tail, StringComparison.Ordinal)) return start;
        }
        return _pending.Length;
    }

    private string Take(int length)
    {
        string result = _pending[..length];
        _pending = Matched ? "" : _pending[length..];
        return result;
    }
}
