using NativeLayers.Loading;

namespace NativeLayers.GgufConvert;

/// <summary>What a conversion wrote.</summary>
public sealed record GgufConversion(string Path, GgmlType Type, int Tensors, long Bytes, string Vocabulary);

/// <summary>
/// Converts a Hugging Face Llama-family folder (config.json + safetensors, tokenizer.model when there is one) to a
/// GGUF v3 file llama.cpp loads as its LLAMA architecture: llama.* hyper-parameters, a SentencePiece vocabulary
/// (the model's, or a synthetic one of its vocab size), and every weight under its llama.cpp name. Matrices are
/// written in the requested type; 1-D tensors (the norms) stay F32, as convert_hf_to_gguf.py keeps them. Q and K
/// rows are permuted from rotate-half to adjacent pairs (<see cref="RotaryRowPermutation"/>). The file is written
/// atomically.
/// </summary>
public static class LlamaGgufConverter
{
    public const string SentencePieceFile = "tokenizer.model";

    public static GgufConversion Convert(string modelDirectory, string outputPath, GgmlType type)
    {
        using var folder = ModelFolder.Open(modelDirectory);
        var config = folder.Config;
        CheckSupported(config);
        var vocabulary = File.Exists(folder.PathOf(SentencePieceFile))
            ? Vocabulary.FromSentencePiece(folder.PathOf(SentencePieceFile), config.VocabSize)
            : Vocabulary.Synthetic(config.VocabSize);
        var metadata = Metadata(config, folder, vocabulary, type);
        var tensors = Tensors(folder, type);
        StagedFiles.Write(outputPath, stream => GgufWriter.Write(stream, metadata, tensors));
        return new GgufConversion(outputPath, type, tensors.Count, new FileInfo(outputPath).Length, vocabulary.Source);
    }

    private static void CheckSupported(ModelConfig config)
    {
        if (config.ModelType != "llama")
            throw new NotSupportedException($"{config.SourcePath}: model_type '{config.ModelType}' is not converted (only llama).");
        if (config.RopeScaling != null)
            throw new NotSupportedException($"{config.SourcePath}: rope_scaling '{config.RopeScaling.Type}' is not converted (only unscaled rotary).");
        if (config.AttentionBias)
            throw new NotSupportedException($"{config.SourcePath}: attention_bias is not converted.");
        if (config.RotaryDim != config.HeadDim)
            throw new NotSupportedException($"{config.SourcePath}: partial rotary ({config.RotaryDim} of {config.HeadDim} dims) is not converted.");
        if (config.Activation != Activation.Silu)
            throw new NotSupportedException($"{config.SourcePath}: activation {config.Activation} is not converted (llama.cpp's LLAMA uses SiLU).");
    }

    private static GgufMetadata Metadata(ModelConfig config, ModelFolder folder, Vocabulary vocabulary, GgmlType type)
    {
        var metadata = new GgufMetadata()
            .String("general.architecture", "llama")
            .String("general.name", Path.GetFileName(Path.GetFullPath(folder.Directory).TrimEnd(Path.DirectorySeparatorChar)))
            .UInt32("general.alignment", GgufFormat.DefaultAlignment)
            .UInt32("general.file_type", GgufFileType.Of(type))
            .UInt32("llama.vocab_size", (uint)config.VocabSize)
            .UInt32("llama.context_length", (uint)config.MaxPositions)
            .UInt32("llama.embedding_length", (uint)config.HiddenSize)
            .UInt32("llama.block_count", (uint)config.NumLayers)
            .UInt32("llama.feed_forward_length", (uint)config.IntermediateSize)
            .UInt32("llama.rope.dimension_count", (uint)config.HeadDim)
            .Float32("llama.rope.freq_base", (float)config.RopeTheta)
            .UInt32("llama.attention.head_count", (uint)config.NumHeads)
            .UInt32("llama.attention.head_count_kv", (uint)config.NumKvHeads)
            .Float32("llama.attention.layer_norm_rms_epsilon", (float)config.NormEps)
            .String("tokenizer.ggml.model", Vocabulary.SentencePieceModel)
            .Strings("tokenizer.ggml.tokens", vocabulary.Tokens)
            .Floats("tokenizer.ggml.scores", vocabulary.Scores)
            .Ints("tokenizer.ggml.token_type", vocabulary.Types);
        int bos = folder.BosTokenId ?? 1;
        int eos = folder.EosTokenIds is [var first, ..] ? first : 2;
        foreach (var (key, id) in new[] { ("bos", bos), ("eos", eos) })
        {
            if (id < 0 || id >= vocabulary.Count)
                throw new InvalidDataException($"{config.SourcePath}: {key}_token_id {id} is outside the vocabulary (0..{vocabulary.Count - 1}).");
            metadata.UInt32($"tokenizer.ggml.{key}_token_id", (uint)id);
        }
        return metadata;
    }

    private static List<GgufTensor> Tensors(ModelFolder folder, GgmlType type)
    {
        var config = folder.Config;
        var tensors = new List<GgufTensor>();
        var unknown = new List<string>();
        foreach (var source in folder.Weights.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            if (LlamaTensorNames.IsIgnored(source.Name)) continue;
            if (LlamaTensorNames.Map(source.Name) is not { } target)
            {
                unknown.Add(source.Name);
                continue;
            }
            var tensorType = source.Shape.Length == 1 ? GgmlType.F32 : type;
            int heads = target.Permutation switch
            {
                RowPermutation.QueryHeads => config.NumHeads,
                RowPermutation.KeyHeads => config.NumKvHeads,
                _ => 0,
            };
            var captured = source;
            tensors.Add(new GgufTensor(target.Name, source.Shape.Reverse().ToArray(), tensorType, () =>
            {
                byte[] bytes = TensorBytes.Convert(captured.Name, captured.DType, captured.File.Bytes(captured.Info), tensorType);
                return heads == 0 ? bytes : RotaryRowPermutation.ToInterleaved(bytes, (int)captured.Shape[0], heads);
            }));
        }
        if (unknown.Count > 0)
            throw new NotSupportedException($"{folder.Directory}: no llama.cpp LLAMA tensor for {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? $" and {unknown.Count - 5} more" : "")}.");
        if (!tensors.Any(t => t.Name == "token_embd.weight"))
            throw new InvalidDataException($"{folder.Directory}: model.embed_tokens.weight is missing.");
        return tensors;
    }
}
