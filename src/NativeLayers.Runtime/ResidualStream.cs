using NativeLayers.Backends;

namespace NativeLayers.Runtime;

/// <summary>
/// The residual stream of one forward call: slot 0 holds the embeddings, slot l+1 the output of block l, and the
/// last slot the raw residual after the final block (before the final norm). The forward pass computes directly in
/// these buffers, so reading a slot costs nothing and writing one (steering) changes what later blocks see.
/// Rows are the tokens of all sequences of the batch, back to back (no padding).
/// </summary>
public sealed class ResidualStream
{
    private readonly PinnedBuffer[] _slots;

    public int SlotCount => _slots.Length;
    public int Layers => _slots.Length - 1;
    public int Rows { get; }
    public int Width { get; }
    public IReadOnlyList<SequenceRows> Sequences { get; }

    public ResidualStream(int layers, int width, IReadOnlyList<SequenceRows> sequences)
    {
        Width = width;
        Sequences = sequences;
        Rows = sequences.Sum(s => s.Count);
        _slots = new PinnedBuffer[layers + 1];
        for (int i = 0; i < _slots.Length; i++) _slots[i] = new PinnedBuffer(Rows * width);
    }

    /// <summary>Slot i as [Rows, Width], row-major. Negative i counts from the end (-1 = last slot).</summary>
    public Span<float> Slot(int i) => SlotBuffer(i).Span;

    internal PinnedBuffer SlotBuffer(int i)
    {
        int index = i < 0 ? _slots.Length + i : i;
        if (index < 0 || index >= _slots.Length)
            throw new ArgumentOutOfRangeException(nameof(i), i, $"slot must be in 0..{_slots.Length - 1} (or -{_slots.Length}..-1).");
        return _slots[index];
    }

    public Span<float> Row(int slot, int row) => Slot(slot).Slice(row * Width, Width);

    /// <summary>The rows of one sequence in one slot: [Count, Width].</summary>
    public Span<float> SequenceSlot(int slot, int sequence)
    {
        var rows = Sequences[sequence];
        return Slot(slot).Slice(rows.FirstRow * Width, rows.Count * Width);
    }
}
