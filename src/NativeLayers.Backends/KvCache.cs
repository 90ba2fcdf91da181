namespace NativeLayers.Backends;

/// <summary>
/// One sequence's keys (already rotated) and values for every layer, [positions, kvHeads·headDim] each, kept by the
/// backend that computes the sequence. <see cref="Length"/> counts the positions filled so far.
/// </summary>
public abstract class KvCache : IDisposable
{
    public int Length { get; set; }
    public abstract int Capacity { get; }

    /// <summary>
    /// Set before the first forward call of a sequence that will never be continued (a one-shot forward): a backend
    /// may then skip storing its keys and values and read them from the call's own rows.
    /// </summary>
    public bool Transient { get; set; }

    /// <summary>Grows (keeping the first <see cref="Length"/> positions) so that <paramref name="positions"/> fit.</summary>
    public abstract void EnsureCapacity(int positions);

    public virtual void Dispose() { }
}
