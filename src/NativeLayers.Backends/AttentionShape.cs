namespace NativeLayers.Backends;

/// <summary>
/// Shape and masking of self-attention over fused [q | k | v] rows: q has Heads·HeadDim values, k and v
/// KvHeads·HeadDim each. Causal attention lets position i see keys j ≤ i (and j ≥ i − W with a sliding window W,
/// the Hugging Face 4.40 rule); bidirectional attention sees the whole sequence. Query head h reads key/value head
/// h / (Heads / KvHeads), as repeat_kv does.
/// </summary>
public readonly record struct AttentionShape(int Heads, int KvHeads, int HeadDim, float Scale, bool Causal = true, int? SlidingWindow = null)
{
    public int QueryWidth => Heads * HeadDim;
    public int KvStride => KvHeads * HeadDim;
    public int QkvStride => QueryWidth + 2 * KvStride;
    public int GroupSize => Heads / KvHeads;
}
