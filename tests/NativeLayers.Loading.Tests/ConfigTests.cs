using System.Text.Json;
using System.Text.Json.Nodes;

namespace NativeLayers.Loading.Tests;

public sealed class ConfigTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Every Llama-family model folder in the shared data (checked against the folders by <see cref="ListsEverySupportedGoldenFixture"/>).</summary>
    private static readonly string[] Supported =
    [
        "fixtures/golden/gemma", "fixtures/golden/llama", "fixtures/golden/llama-bf16", "fixtures/golden/llama-f16",
        "fixtures/golden/llama-rope-linear", "fixtures/golden/llama-rope-llama3", "fixtures/golden/qwen2-rope-yarn",
        "fixtures/golden/mistral", "fixtures/golden/mistral-swa", "fixtures/golden/phi3", "fixtures/golden/qwen2",
        "models/stories260k",
    ];

    public static TheoryData<string> SupportedFolders => new(Supported);

    private static string Folder(string relative) => Shared.Path(relative.Split('/'));

    [SkippableFact]
    public void ListsEverySupportedGoldenFixture()
    {
        var supported = Directory.GetDirectories(Shared.Path("fixtures", "golden"))
            .Where(d => new[] { "llama", "mistral", "qwen2", "gemma", "phi3" }.Contains(
                JsonDocument.Parse(File.ReadAllText(Path.Combine(d, "config.json"))).RootElement.GetProperty("model_type").GetString()))
            .Select(d => "fixtures/golden/" + Path.GetFileName(d))
            .Except(["fixtures/golden/phi3-longrope"]); // its LongRoPE config is checked by LongRopeIsReadAsHuggingFaceReadsIt
        Assert.Equal(supported.Order(), Supported.Where(f => f.StartsWith("fixtures")).Order());
    }

    [SkippableFact]
    public void LongRopeIsReadAsHuggingFaceReadsIt()
    {
        using var folder = ModelFolder.Open(Folder("fixtures/golden/phi3-longrope"));
        var scaling = folder.Config.RopeScaling!;
        Assert.True(scaling.IsLongRope);
        // factor = max_position_embeddings / original_max_position_embeddings = 32 / 8; cos and sin scale by √(1 + ln 4 / ln 8).
        Assert.Equal((4.0, 8), (scaling.Factor, scaling.OriginalMaxPositions));
        Assert.Equal(1.290994, scaling.AttentionFactor!.Value, 6);
        Assert.Equal([1.0, 1.02, 1.05, 1.1, 1.15, 1.2, 1.3, 1.4], scaling.ShortFactor!);
        Assert.Equal(12.0, scaling.LongFactor![^1]);
    }

    [SkippableTheory]
    [MemberData(nameof(SupportedFolders))]
    public void OpensSupportedFolderWithTheValuesOfItsConfig(string relative)
    {
        string dir = Folder(relative);
        using var folder = ModelFolder.Open(dir);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        var raw = json.RootElement;
        var c = folder.Config;
        Assert.Equal(raw.GetProperty("model_type").GetString(), c.ModelType);
        Assert.Equal(Path.Combine(dir, "config.json"), c.SourcePath);
        Assert.Equal(raw.GetProperty("architectures")[0].GetString(), Assert.Single(c.Architectures));
        Assert.Equal(raw.GetProperty("vocab_size").GetInt32(), c.VocabSize);
        Assert.Equal(raw.GetProperty("hidden_size").GetInt32(), c.HiddenSize);
        Assert.Equal(raw.GetProperty("num_hidden_layers").GetInt32(), c.NumLayers);
        Assert.Equal(raw.GetProperty("num_attention_heads").GetInt32(), c.NumHeads);
        Assert.Equal(raw.GetProperty("num_key_value_heads").GetInt32(), c.NumKvHeads);
        Assert.Equal(raw.GetProperty("intermediate_size").GetInt32(), c.IntermediateSize);
        Assert.Equal(raw.GetProperty("rms_norm_eps").GetDouble(), c.NormEps);
        Assert.Equal(raw.GetProperty("rope_theta").GetDouble(), c.RopeTheta);
        Assert.Equal(raw.GetProperty("max_position_embeddings").GetInt32(), c.MaxPositions);
        Assert.Equal(raw.GetProperty("torch_dtype").GetString(), c.TorchDtype);
        if (raw.TryGetProperty("rope_scaling", out var scaling) && scaling.ValueKind == JsonValueKind.Object)
        {
            Assert.Equal(scaling.GetProperty("rope_type").GetString(), c.RopeScaling?.Type);
            Assert.Equal(scaling.GetProperty("factor").GetDouble(), c.RopeScaling!.Factor);
        }
        else Assert.Null(c.RopeScaling);
        Assert.Equal(c.NumHeads / c.NumKvHeads, c.QueryGroupSize);
        Assert.Equal([raw.GetProperty("eos_token_id").GetInt32()], folder.EosTokenIds);
        Assert.Equal(raw.GetProperty("bos_token_id").GetInt32(), folder.BosTokenId);
        Assert.NotNull(folder.Generation);

        // The weights agree with the config: tied models have no lm_head, and the embedding is vocab × hidden.
        Assert.Equal(!c.TieWordEmbeddings, folder.Weights.Contains("lm_head.weight"));
        Assert.Equal([(long)c.VocabSize, c.HiddenSize], folder.Weights.Get("model.embed_tokens.weight").Shape);
        var expectedDType = c.TorchDtype switch { "bfloat16" => DType.BF16, "float16" => DType.F16, _ => DType.F32 };
        Assert.All(folder.Weights.Tensors, t => Assert.Equal(expectedDType, t.DType));
    }

    [SkippableFact]
    public void Gemma()
    {
        var c = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/gemma"), "config.json"));
        Assert.Equal(32, c.HeadDim); // explicit head_dim, not hidden / heads = 20
        Assert.True(c.TieWordEmbeddings); // Gemma's default; the config does not say
        Assert.Equal(Activation.GeluTanh, c.Activation); // from hidden_activation; hidden_act "gelu" is ignored
        Assert.Equal(1, c.NumKvHeads);
        Assert.Equal(4, c.QueryGroupSize);
        Assert.False(c.AttentionBias);
        Assert.Null(c.SlidingWindow);
        Assert.Equal(1e-6, c.NormEps);
    }

    [SkippableFact]
    public void Qwen2()
    {
        var c = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/qwen2"), "config.json"));
        Assert.True(c.AttentionBias);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(20, c.HeadDim);
        Assert.Equal(32768, c.SlidingWindow); // HF 4.40 applies it even with use_sliding_window false
        Assert.Equal(1_000_000.0, c.RopeTheta);
        Assert.Equal([430], c.EosTokenIds);
    }

    [SkippableFact]
    public void MistralAndPhi3SlidingWindows()
    {
        var mistral = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/mistral"), "config.json"));
        Assert.Null(mistral.SlidingWindow); // "sliding_window": null
        Assert.Equal(1, mistral.NumKvHeads);
        Assert.False(mistral.TieWordEmbeddings);
        Assert.Equal(4, ConfigReader.Read(Path.Combine(Folder("fixtures/golden/mistral-swa"), "config.json")).SlidingWindow);
        var phi3 = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/phi3"), "config.json"));
        Assert.Equal(2047, phi3.SlidingWindow);
        Assert.Equal(Activation.Silu, phi3.Activation);
        Assert.False(phi3.AttentionBias);
        Assert.Equal(16, phi3.HeadDim);
    }

    [SkippableFact]
    public void LlamaAndStories260k()
    {
        var llama = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/llama"), "config.json"));
        Assert.Equal(("llama", 16, false, Activation.Silu, false, (int?)null), (llama.ModelType, llama.HeadDim, llama.TieWordEmbeddings, llama.Activation, llama.AttentionBias, llama.SlidingWindow));
        var stories = ConfigReader.Read(Path.Combine(Shared.Stories, "config.json"));
        Assert.True(stories.TieWordEmbeddings);
        Assert.Equal((5, 8, 4, 8, 512, 172, 512), (stories.NumLayers, stories.NumHeads, stories.NumKvHeads, stories.HeadDim, stories.VocabSize, stories.IntermediateSize, stories.MaxPositions));
        Assert.Equal(2, stories.QueryGroupSize);
        Assert.Equal(1e-5, stories.NormEps);
    }

    // ---- Error cases, on configs derived from the llama fixture and written to a temp folder. ----

    private static JsonObject LlamaConfig() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Folder("fixtures/golden/llama"), "config.json")))!.AsObject();

    private string WriteConfig(JsonObject config, string name = "config.json") => WriteText(config.ToJsonString(), name);

    private string WriteText(string text, string name = "config.json")
    {
        string path = _temp.File(name);
        File.WriteAllText(path, text);
        return path;
    }

    private static ModelFileException ReadFails(string path)
    {
        var e = Assert.Throws<ModelFileException>(() => ConfigReader.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        return e;
    }

    [SkippableTheory]
    [InlineData("t5")]
    [InlineData("rwkv")]
    public void UnsupportedModelTypeIsNamed(string modelType)
    {
        string dir = Directory.CreateDirectory(_temp.File("unsupported-" + modelType)).FullName;
        File.WriteAllText(Path.Combine(dir, "config.json"), $"{{\"model_type\": \"{modelType}\", \"hidden_size\": 8}}");
        var e = ReadFails(Path.Combine(dir, "config.json"));
        Assert.Contains($"model_type '{modelType}' is not supported", e.Message);
        Assert.Contains("llama", e.Message);
        Assert.Throws<ModelFileException>(() => ModelFolder.Open(dir));
    }

    [SkippableFact]
    public void ReadsGpt2NeoxAndBertConfigsWithTheirOwnFieldNames()
    {
        var gpt2 = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/gpt2"), "config.json"));
        Assert.Equal((64, 2, 4, 256, 64, 0, true), (gpt2.HiddenSize, gpt2.NumLayers, gpt2.NumHeads, gpt2.IntermediateSize, gpt2.MaxPositions, gpt2.RotaryDim, gpt2.TieWordEmbeddings));
        Assert.Equal(Activation.GeluTanh, gpt2.Activation);
        Assert.Equal(1e-5, gpt2.NormEps);
        var neox = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/gpt_neox"), "config.json"));
        Assert.Equal((4, true, false, Activation.Gelu), (neox.RotaryDim, neox.ParallelResidual, neox.TieWordEmbeddings, neox.Activation));
        var bert = ConfigReader.Read(Path.Combine(Folder("fixtures/golden/bert"), "config.json"));
        Assert.Equal((2, 1e-12, 0, 0), (bert.TypeVocabSize, bert.NormEps, bert.RotaryDim, bert.PadTokenId));
    }

    [SkippableTheory]
    [InlineData("model_type")]
    [InlineData("hidden_size")]
    [InlineData("num_attention_heads")]
    [InlineData("num_hidden_layers")]
    [InlineData("vocab_size")]
    [InlineData("intermediate_size")]
    [InlineData("rms_norm_eps")]
    public void MissingRequiredFieldIsNamed(string field)
    {
        var config = LlamaConfig();
        config.Remove(field);
        Assert.Contains($"'{field}'", ReadFails(WriteConfig(config)).Message);
        config[field] = null; // null counts as missing
        Assert.Contains($"'{field}'", ReadFails(WriteConfig(config)).Message);
    }

    [SkippableTheory]
    [InlineData("hidden_size", "\"64\"", "field 'hidden_size' must be an integer")]
    [InlineData("num_hidden_layers", "2.5", "field 'num_hidden_layers' must be an integer")]
    [InlineData("vocab_size", "1e10", "field 'vocab_size' must be an integer")]
    [InlineData("num_key_value_heads", "[2]", "field 'num_key_value_heads' must be an integer")]
    [InlineData("rms_norm_eps", "\"1e-5\"", "field 'rms_norm_eps' must be a number")]
    [InlineData("rope_theta", "true", "field 'rope_theta' must be a number")]
    [InlineData("tie_word_embeddings", "\"false\"", "field 'tie_word_embeddings' must be true or false")]
    [InlineData("attention_bias", "0", "field 'attention_bias' must be true or false")]
    [InlineData("hidden_act", "3", "field 'hidden_act' must be a string")]
    [InlineData("model_type", "1", "field 'model_type' must be a string")]
    [InlineData("torch_dtype", "{}", "field 'torch_dtype' must be a string")]
    [InlineData("eos_token_id", "\"2\"", "field 'eos_token_id' must be an integer or a list of integers")]
    [InlineData("eos_token_id", "[2,\"3\"]", "field 'eos_token_id' must hold integers")]
    [InlineData("bos_token_id", "1.0", "field 'bos_token_id' must be an integer")]
    [InlineData("hidden_size", "0", "field 'hidden_size' must be positive")]
    [InlineData("num_attention_heads", "-4", "field 'num_attention_heads' must be positive")]
    [InlineData("num_key_value_heads", "3", "num_attention_heads (4) must be a multiple of num_key_value_heads (3)")]
    [InlineData("head_dim", "7", "rotary dimension 7 must be even")]
    [InlineData("num_attention_heads", "6", "hidden_size (64) is not divisible by num_attention_heads (6)")]
    [InlineData("hidden_act", "\"tanh\"", "activation 'tanh' is not supported")]
    [InlineData("rope_scaling", "{\"type\":\"dynamic\",\"factor\":2.0}", "rope_scaling type 'dynamic' is not supported")]
    [InlineData("rope_scaling", "{\"factor\":2.0}", "rope_scaling has no 'type'")]
    [InlineData("rope_scaling", "{\"type\":\"linear\"}", "required field 'rope_scaling.factor'")]
    [InlineData("rms_norm_eps", "-1", "field 'rms_norm_eps' must be in (0, 1] (a norm's epsilon), got -1")]
    [InlineData("rms_norm_eps", "0", "field 'rms_norm_eps' must be in (0, 1]")]
    [InlineData("rms_norm_eps", "1e308", "field 'rms_norm_eps' must be in (0, 1]")]
    [InlineData("rope_theta", "-10000", "field 'rope_theta' must be positive (the RoPE base), got -10000")]
    [InlineData("rope_theta", "1e999", "field 'rope_theta' must be a finite number, got 1e999")]
    [InlineData("rope_scaling", "{\"type\":\"linear\",\"factor\":-2}", "field 'rope_scaling.factor' must be positive")]
    [InlineData("rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":4,\"high_freq_factor\":1}", "high_freq_factor (1) must be larger than low_freq_factor (4)")]
    [InlineData("rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8,\"original_max_position_embeddings\":0}", "field 'rope_scaling.original_max_position_embeddings' must be positive")]
    [InlineData("max_position_embeddings", "0", "field 'max_position_embeddings' must be positive")]
    public void WrongFieldIsNamed(string field, string json, string expected)
    {
        var config = LlamaConfig();
        config[field] = JsonNode.Parse(json);
        Assert.Contains(expected, ReadFails(WriteConfig(config)).Message);
    }

    [SkippableFact]
    public void MistralSlidingWindowMustBePositive()
    {
        var config = LlamaConfig();
        config["model_type"] = "mistral";
        config["sliding_window"] = 0;
        Assert.Contains("sliding_window must be positive", ReadFails(WriteConfig(config)).Message);
        config["model_type"] = "llama"; // llama has no sliding window: the field is ignored
        Assert.Null(ConfigReader.Read(WriteConfig(config)).SlidingWindow);
    }

    [SkippableFact]
    public void OptionalFieldsAndDefaults()
    {
        var config = LlamaConfig();
        foreach (var field in new[] { "num_key_value_heads", "rope_theta", "max_position_embeddings", "tie_word_embeddings", "hidden_act", "eos_token_id", "bos_token_id", "torch_dtype", "architectures" })
            config.Remove(field);
        var c = ConfigReader.Read(WriteConfig(config));
        Assert.Equal(c.NumHeads, c.NumKvHeads);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal(2048, c.MaxPositions);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal(Activation.Silu, c.Activation);
        Assert.Empty(c.EosTokenIds);
        Assert.Null(c.BosTokenId);
        Assert.Null(c.TorchDtype);
        Assert.Empty(c.Architectures);
    }

    [SkippableTheory]
    [InlineData("gemma", null, null, Activation.GeluTanh)]
    [InlineData("gemma", "gelu", "gelu_pytorch_tanh", Activation.GeluTanh)]
    [InlineData("gemma", "gelu_pytorch_tanh", "gelu", Activation.Gelu)]
    [InlineData("llama", "gelu_new", "gelu", Activation.GeluTanh)]
    [InlineData("llama", "relu", null, Activation.Relu)]
    [InlineData("qwen2", "swish", null, Activation.Silu)]
    public void ActivationComesFromTheFieldTheModelTypeUses(string modelType, string? hiddenAct, string? hiddenActivation, Activation expected)
    {
        var config = LlamaConfig();
        config["model_type"] = modelType;
        config["hidden_act"] = hiddenAct;
        config["hidden_activation"] = hiddenActivation;
        Assert.Equal(expected, ConfigReader.Read(WriteConfig(config)).Activation);
    }

    [SkippableFact]
    public void Qwen2HasAttentionBiasWhateverTheConfigSays()
    {
        var config = LlamaConfig();
        config["model_type"] = "qwen2";
        config["attention_bias"] = false;
        Assert.True(ConfigReader.Read(WriteConfig(config)).AttentionBias);
        config["model_type"] = "llama";
        config["attention_bias"] = true;
        Assert.True(ConfigReader.Read(WriteConfig(config)).AttentionBias);
    }

    [SkippableFact]
    public void RopeScalingTypes()
    {
        var config = LlamaConfig();
        config["rope_scaling"] = JsonNode.Parse("{\"type\":\"linear\",\"factor\":4.0}");
        Assert.Equal(new RopeScaling("linear", 4.0), ConfigReader.Read(WriteConfig(config)).RopeScaling);
        config["rope_scaling"] = JsonNode.Parse("{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}");
        Assert.Equal(new RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), ConfigReader.Read(WriteConfig(config)).RopeScaling);

        config["rope_scaling"] = JsonNode.Parse("{\"type\":\"dynamic\",\"factor\":2.0}");
        var unknown = ReadFails(WriteConfig(config));
        Assert.Contains("rope_scaling type 'dynamic' is not supported", unknown.Message);
        Assert.Contains("config.json", unknown.Message);

        // LongRoPE needs one factor per rotary frequency (head_dim / 2), and positive ones.
        int half = config["hidden_size"]!.GetValue<int>() / config["num_attention_heads"]!.GetValue<int>() / 2;
        string Factors(int n) => "[" + string.Join(",", Enumerable.Repeat("1.5", n)) + "]";
        config["rope_scaling"] = JsonNode.Parse($"{{\"type\":\"longrope\",\"factor\":2.0,\"short_factor\":{Factors(half)},\"long_factor\":{Factors(half - 1)}}}");
        Assert.Contains($"need {half} values each", ReadFails(WriteConfig(config)).Message);
        config["rope_scaling"] = JsonNode.Parse($"{{\"type\":\"longrope\",\"factor\":2.0,\"short_factor\":{Factors(half)},\"long_factor\":[-1]}}");
        Assert.Contains("rope_scaling.long_factor must be a list of positive numbers", ReadFails(WriteConfig(config)).Message);
        config["rope_scaling"] = JsonNode.Parse($"{{\"type\":\"su\",\"factor\":2.0,\"short_factor\":{Factors(half)},\"long_factor\":{Factors(half)}}}");
        Assert.Equal("longrope", ConfigReader.Read(WriteConfig(config)).RopeScaling!.Type);
    }

    [SkippableTheory]
    [InlineData("{", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("[]", "expected a JSON object")]
    [InlineData("\"llama\"", "expected a JSON object")]
    [InlineData("{\"model_type\":\"llama\",}", "not valid JSON")] // trailing commas are rejected, as Python's json does
    public void MalformedJsonIsNamed(string text, string expected)
    {
        Assert.Contains(expected, ReadFails(WriteText(text)).Message);
    }

    [SkippableFact]
    public void MissingConfigOrWeightsOrFolderIsNamed()
    {
        string missing = _temp.File("absent");
        Assert.StartsWith(missing + ": model folder not found", Assert.Throws<ModelFileException>(() => ModelFolder.Open(missing)).Message);

        File.Copy(Path.Combine(Shared.Stories, "model.safetensors"), _temp.File("model.safetensors"));
        string config = _temp.File("config.json");
        Assert.StartsWith(config + ": file not found", Assert.Throws<ModelFileException>(() => ModelFolder.Open(_temp.Path)).Message);

        File.Copy(Path.Combine(Shared.Stories, "config.json"), config);
        File.Delete(_temp.File("model.safetensors"));
        var e = Assert.Throws<ModelFileException>(() => ModelFolder.Open(_temp.Path));
        Assert.StartsWith(_temp.Path + ": no model.safetensors", e.Message);
    }

    /// <summary>A stories260k folder in the temp dir whose generation_config.json the test writes.</summary>
    private ModelFolder OpenWithGenerationConfig(string? generationConfig, int configEos = 2)
    {
        File.Copy(Path.Combine(Shared.Stories, "model.safetensors"), _temp.File("model.safetensors"), overwrite: true);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Shared.Stories, "config.json")))!.AsObject();
        config["eos_token_id"] = configEos;
        WriteConfig(config);
        if (generationConfig != null) WriteText(generationConfig, "generation_config.json");
        return ModelFolder.Open(_temp.Path);
    }

    [SkippableTheory]
    [InlineData(null, new[] { 2 }, 1)]
    [InlineData("{}", new[] { 2 }, 1)]
    [InlineData("{\"eos_token_id\":null}", new[] { 2 }, 1)]
    [InlineData("{\"eos_token_id\":[]}", new[] { 2 }, 1)]
    [InlineData("{\"eos_token_id\":7}", new[] { 7 }, 1)]
    [InlineData("{\"eos_token_id\":[7, 2, 9]}", new[] { 7, 2, 9 }, 1)]
    [InlineData("{\"bos_token_id\":5,\"eos_token_id\":[3],\"pad_token_id\":0}", new[] { 3 }, 5)]
    public void GenerationConfigEosWinsOverConfig(string? generationConfig, int[] eos, int bos)
    {
        using var folder = OpenWithGenerationConfig(generationConfig);
        Assert.Equal(eos, folder.EosTokenIds);
        Assert.Equal(bos, folder.BosTokenId);
        Assert.Equal([2], folder.Config.EosTokenIds);
    }

    [SkippableTheory]
    [InlineData("{\"eos_token_id\":\"2\"}", "eos_token_id")]
    [InlineData("{\"eos_token_id\":[1.5]}", "eos_token_id")]
    [InlineData("{\"pad_token_id\":[0]}", "pad_token_id")]
    [InlineData("{\"eos_token_id\":", "not valid JSON")]
    public void BadGenerationConfigIsNamed(string generationConfig, string expected)
    {
        var e = Assert.Throws<ModelFileException>(() => OpenWithGenerationConfig(generationConfig).Dispose());
        Assert.StartsWith(_temp.File("generation_config.json") + ": ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    // Bugs in ConfigReader (a file this change may not edit): these fields are used without checking their JSON kind,
    // so a wrong type escapes as InvalidOperationException instead of a ModelFileException naming the field.
    [SkippableTheory]
    [InlineData("architectures", "\"LlamaForCausalLM\"")]
    [InlineData("architectures", "[1]")]
    [InlineData("rope_scaling", "\"linear\"")]
    public void WrongKindOfArchitecturesOrRopeScalingIsNamed(string field, string json)
    {
        var config = LlamaConfig();
        config[field] = JsonNode.Parse(json);
        Assert.Contains(field, ReadFails(WriteConfig(config)).Message);
    }
}
