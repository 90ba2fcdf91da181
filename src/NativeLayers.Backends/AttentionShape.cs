namespace NativeLayers.Backends;

/// <summary>
/// Shape and masking of self-attention over fused [q | k | v] rows: q has Heads·HeadDim values, k and v
/// KvHeads·HeadDim each. Causal attention lets position i see keys j ≤ i (and j ≥ i − W with a sliding window W,
/// the Hugging Face 4.40 rule); bidirectional attention sees the whole sequence. Query head h reads key/value head
/// h / (Heads / KvHeads), as repeat_kv does. With <see cref="SoftCap"/> c &gt; 0 each scaled score s becomes c · tanh(s / c)
/// before the mask and softmax (Gemma 2).
/// </summary>
public readonly record struct AttentionShape(int Heads, int KvHeads, int HeadDim, float Scale, bool Causal = true, int? SlidingWindow = null, float SoftCap = 0)
{
    public int QueryWidth => Heads * HeadDim;
    public int KvStride => KvHeads * HeadDim;
    public int QkvStride => QueryWidth + 2 * KvStride;
    public int GroupSize => Heads / KvHeads;
}
