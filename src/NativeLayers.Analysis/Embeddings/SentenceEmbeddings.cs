using System.Numerics.Tensors;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Embeddings;

public sealed record EmbeddingOptions
{
    /// <summary>Residual slots to embed from (slot l + 1 = after block l); null = the last slot (the model's output).</summary>
    public IReadOnlyList<int>? Slots { get; init; }
    /// <summary>Null = the model's own sentence-transformers pooling, else mean pooling without normalisation.</summary>
    public SentencePooling? Pooling { get; init; }
    public int BatchSize { get; init; } = 32;
    /// <summary>Tokens kept per text (0 = all; longer texts are cut, as sentence-transformers' max_seq_length does).</summary>
    public int MaxTokens { get; init; }
}

/// <summary>
/// Sentence embeddings at any residual slot in one pass per batch: texts run as a ragged batch (no padding, so a
/// text's vector is the same alone or batched), each slot's rows pooled through the capture path, then optionally
/// L2-normalised. Returns per slot one [texts, width] array.
/// </summary>
public static class SentenceEmbeddings
{
    public static IReadOnlyList<float[]> Embed(Transformer model, IReadOnlyList<string> texts, EmbeddingOptions? options = null, IProgress<int>? progress = null)
    {
        options ??= new EmbeddingOptions();
        if (texts.Count == 0) throw new NativeLayersException("no texts to embed.");
        if (options.BatchSize < 1) throw new NativeLayersException("the batch size must be ≥ 1.");
        if (!model.HasTokenizer) throw new NativeLayersException($"{model.Folder.Directory} has no tokenizer to encode the texts.");
        var pooling = options.Pooling ?? SentencePooling.FromModel(model.Folder.Directory) ?? new SentencePooling(PoolingMode.Mean, Normalize: false);
        var slots = options.Slots ?? [model.Layers];
        int d = model.Width;
        var result = slots.Select(_ => new float[texts.Count * d]).ToArray();
        for (int start = 0; start < texts.Count; start += options.BatchSize)
        {
            var batch = texts.Skip(start).Take(options.BatchSize).Select((text, i) =>
            {
                var ids = model.Tokenizer.Encode(text);
                if (ids.Length == 0) throw new NativeLayersException($"text {start + i} encodes to no tokens.");
                return options.MaxTokens > 0 && ids.Length > options.MaxTokens ? ids[..options.MaxTokens] : ids;
            }).ToArray();
            var captured = LayerActivations.CaptureSlots(model, batch, slots, finalNormLastSlot: false, pooling.Rows);
            for (int k = 0; k < slots.Count; k++)
            {
                var rows = captured[k].Data.AsSpan(0, batch.Length * d);
                rows.CopyTo(result[k].AsSpan(start * d));
                if (!pooling.Normalize) continue;
                for (int i = 0; i < batch.Length; i++)
                {
                    var row = result[k].AsSpan((start + i) * d, d);
                    float norm = TensorPrimitives.Norm<float>(row);
                    if (norm > 0) TensorPrimitives.Divide(row, Math.Max(norm, 1e-12f), row);
                }
            }
            progress?.Report(start + batch.Length);
        }
        return result;
    }
}
