namespace NativeLayers.Loading;

/// <summary>
/// A Hugging Face model folder: config, optional generation config, weights and tokenizer files.
/// Opening it validates the config and the safetensors headers; weights stay memory-mapped.
/// </summary>
public sealed class ModelFolder : IDisposable
{
    public string Directory { get; }
    public ModelConfig Config { get; }
    public GenerationConfig? Generation { get; }
    public WeightStore Weights { get; }

    /// <summary>EOS ids: generation_config.json wins over config.json, as in Hugging Face's generate.</summary>
    public int[] EosTokenIds => Generation is { EosTokenIds.Length: > 0 } g ? g.EosTokenIds : Config.EosTokenIds;
    public int? BosTokenId => Generation?.BosTokenId ?? Config.BosTokenId;

    private ModelFolder(string directory, ModelConfig config, GenerationConfig? generation, WeightStore weights)
    {
        Directory = directory; Config = config; Generation = generation; Weights = weights;
    }

    public static ModelFolder Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new ModelFileException(directory, "model folder not found.");
        var config = ConfigReader.Read(Path.Combine(directory, "config.json"));
        string genPath = Path.Combine(directory, "generation_config.json");
        var generation = File.Exists(genPath) ? GenerationConfig.Read(genPath) : null;
        var weights = WeightStore.OpenFolder(directory);
        return new ModelFolder(directory, config, generation, weights);
    }

    public string PathOf(string fileName) => Path.Combine(Directory, fileName);

    public void Dispose() => Weights.Dispose();
}
