namespace NativeLayers.Backends;

/// <summary>
/// One sequence's keys (already rotated) and values for every layer, [positions, kvHeads·headDim] each, kept by the
/// backend that computes the sequence. <see cref="Length"/> counts the positions filled so far.
/// </summary>
public abstract class KvCache : IDisposable
{
    public int Length { get; set; }
    public abstract int Capacity { get; }

    /// <summary>Grows (keeping the first <see cref="Length"/> positions) so that <paramref name="positions"/> fit.</summary>
    public abstract void EnsureCapacity(int positions);

    public virtual void Dispose() { }
}
