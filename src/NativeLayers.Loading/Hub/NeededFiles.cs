namespace NativeLayers.Loading.Hub;

/// <summary>
/// The files of a repository the engine reads, so a download skips everything else (PyTorch, TensorFlow, ONNX and GGUF
/// weights, ONNX exports, images, READMEs).
/// </summary>
internal static class NeededFiles
{
    public const string Config = "config.json";

    /// <summary>Read when present: generation defaults, tokenizers, sentence-transformers pooling.</summary>
    private static readonly string[] Optional =
    [
        "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "modules.json", "1_Pooling/config.json",
    ];

    private static readonly string[] OtherWeightFormats = [".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".tflite", ".ot"];

    /// <summary>
    /// The files to fetch from a repository holding <paramref name="siblings"/>, small ones first: the config, the
    /// optional files it has, then model.safetensors or the shard index (whose shards <see cref="Shards"/> adds once
    /// it is downloaded).
    /// </summary>
    public static List<string> Select(HubModelReference model, IReadOnlyCollection<string> siblings)
    {
        var present = siblings.ToHashSet(StringComparer.Ordinal);
        if (!present.Contains(Config))
            throw new NativeLayersException($"{model} has no {Config} at its top level, so it is not a Hugging Face transformers model nl can load.");
        var files = new List<string> { Config };
        files.AddRange(Optional.Where(present.Contains));
        if (present.Contains(WeightStore.IndexFileName)) files.Add(WeightStore.IndexFileName);
        else if (present.Contains(WeightStore.SingleFileName)) files.Add(WeightStore.SingleFileName);
        else throw NoSafetensors(model, siblings);
        return files;
    }

    /// <summary>The shards a downloaded index lists; each must be in the repository.</summary>
    public static List<string> Shards(HubModelReference model, string indexPath, IReadOnlyCollection<string> siblings)
    {
        var shards = WeightStore.ShardNames(indexPath);
        if (shards.FirstOrDefault(s => !siblings.Contains(s)) is { } missing)
            throw new NativeLayersException($"{model}: {WeightStore.IndexFileName} lists the shard {missing}, which the repository does not have.");
        return shards;
    }

    /// <summary>What a snapshot folder lacks of the files a model needs (the config and every weight file), or nothing when it can be opened as it is.</summary>
    public static List<string> MissingFrom(string snapshot)
    {
        var missing = new List<string>();
        if (!File.Exists(Path.Combine(snapshot, Config))) missing.Add(Config);
        string index = Path.Combine(snapshot, WeightStore.IndexFileName);
        if (File.Exists(index))
        {
            try { missing.AddRange(WeightStore.ShardNames(index).Where(s => !File.Exists(Path.Combine(snapshot, s)))); }
            catch (ModelFileException) { missing.Add(WeightStore.IndexFileName); } // a damaged index is fetched again
        }
        else if (!File.Exists(Path.Combine(snapshot, WeightStore.SingleFileName)))
            missing.Add($"{WeightStore.SingleFileName} (or {WeightStore.IndexFileName})");
        return missing;
    }

    private static NativeLayersException NoSafetensors(HubModelReference model, IReadOnlyCollection<string> siblings)
    {
        var safetensors = siblings.Where(f => f.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)).ToList();
        if (safetensors.Count > 0)
            return new NativeLayersException(
                $"{model} has safetensors files ({List(safetensors)}) but no {WeightStore.SingleFileName} or {WeightStore.IndexFileName}, " +
                "the weights nl loads (it may be an adapter or a checkpoint in another layout); download the model folder yourself and pass it to --model.");
        var others = siblings.Where(f => OtherWeightFormats.Any(e => f.EndsWith(e, StringComparison.OrdinalIgnoreCase))).ToList();
        string has = others.Count > 0 ? $"only {List(others)}" : "no weight files at all";
        return new NativeLayersException(
            $"{model} has no safetensors weights, {has}; nl reads safetensors only: convert it (for example load it with transformers and " +
            "save_pretrained(DIR, safe_serialization=True), or use the hub's safetensors conversion space) and pass DIR to --model.");
    }

    private static string List(List<string> files) => string.Join(", ", files.Take(5)) + (files.Count > 5 ? $" and {files.Count - 5} more" : "");
}
