namespace NativeLayers.Loading;

/// <summary>Reads <c>config.json</c> into <see cref="ModelConfig"/>, validating what each model type needs.</summary>
public static class ConfigReader
{
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2", "gemma", "phi3"];

    public static ModelConfig Read(string path)
    {
        using var doc = JsonFields.ParseFile(path);
        var f = new JsonFields(path, doc.RootElement);
        string modelType = f.OptionalString("model_type")
            ?? throw new ModelFileException(path, "required field 'model_type' is missing; cannot tell which architecture this is.");
        if (!SupportedModelTypes.Contains(modelType))
            throw new ModelFileException(path, $"model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)}).");

        int hidden = f.PositiveInt("hidden_size");
        int heads = f.PositiveInt("num_attention_heads");
        int kvHeads = f.PositiveInt("num_key_value_heads", heads);
        if (heads % kvHeads != 0)
            throw new ModelFileException(path, $"num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kvHeads}).");
        int? explicitHeadDim = f.OptionalInt("head_dim");
        if (explicitHeadDim == null && hidden % heads != 0)
            throw new ModelFileException(path, $"hidden_size ({hidden}) is not divisible by num_attention_heads ({heads}) and no head_dim is given.");
        int headDim = explicitHeadDim ?? hidden / heads;
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ModelFileException(path, $"head_dim {headDim} must be positive and even for rotary embeddings.");

        int? window = modelType switch
        {
            // HF 4.40 applies sliding_window in the eager mask for these types whenever it is set.
            "mistral" or "qwen2" or "phi3" => f.OptionalInt("sliding_window"),
            _ => null,
        };
        if (window is <= 0) throw new ModelFileException(path, $"sliding_window must be positive, got {window}.");

        var config = new ModelConfig
        {
            ModelType = modelType,
            SourcePath = path,
            Architectures = f.OptionalStringList("architectures"),
            VocabSize = f.PositiveInt("vocab_size"),
            HiddenSize = hidden,
            NumLayers = f.PositiveInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            IntermediateSize = f.PositiveInt("intermediate_size"),
            NormEps = f.OptionalDouble("rms_norm_eps") ?? throw new ModelFileException(path, "required field 'rms_norm_eps' (a number) is missing."),
            RopeTheta = f.OptionalDouble("rope_theta") ?? 10000.0,
            RopeScaling = ReadRopeScaling(f),
            MaxPositions = f.PositiveInt("max_position_embeddings", 2048),
            TieWordEmbeddings = f.OptionalBool("tie_word_embeddings") ?? modelType == "gemma", // HF per-class defaults
            Activation = ReadActivation(f, modelType),
            SlidingWindow = window,
            AttentionBias = modelType == "qwen2" || (f.OptionalBool("attention_bias") ?? false),
            BosTokenId = f.OptionalInt("bos_token_id"),
            EosTokenIds = f.IntOrIntList("eos_token_id"),
            TorchDtype = f.OptionalString("torch_dtype"),
        };
        return config;
    }

    private static Activation ReadActivation(JsonFields f, string modelType)
    {
        // Gemma (HF 4.40): hidden_activation decides, and gelu_pytorch_tanh when it is absent; hidden_act is ignored.
        string name = modelType == "gemma"
            ? f.OptionalString("hidden_activation") ?? "gelu_pytorch_tanh"
            : f.OptionalString("hidden_act") ?? "silu";
        return ParseActivation(f.Path, name);
    }

    public static Activation ParseActivation(string path, string name) => name switch
    {
        "silu" or "swish" => Activation.Silu,
        "gelu_pytorch_tanh" or "gelu_new" or "gelu_fast" => Activation.GeluTanh,
        "gelu" => Activation.Gelu,
        "relu" => Activation.Relu,
        _ => throw new ModelFileException(path, $"activation '{name}' is not supported (supported: silu, gelu, gelu_pytorch_tanh, gelu_new, relu)."),
    };

    private static RopeScaling? ReadRopeScaling(JsonFields f)
    {
        var v = f.Get("rope_scaling");
        if (v == null) return null;
        if (v.Value.ValueKind != System.Text.Json.JsonValueKind.Object)
            throw new ModelFileException(f.Path, $"field 'rope_scaling' must be an object or null, got {v.Value.GetRawText()}.");
        var s = new JsonFields(f.Path, v.Value, "rope_scaling.");
        string type = s.OptionalString("rope_type") ?? s.OptionalString("type")
            ?? throw new ModelFileException(f.Path, "rope_scaling has no 'type' or 'rope_type'.");
        return type switch
        {
            "linear" => new RopeScaling(type, s.RequiredDouble("factor")),
            "llama3" => new RopeScaling(type, s.RequiredDouble("factor"), s.OptionalDouble("low_freq_factor") ?? 1,
                s.OptionalDouble("high_freq_factor") ?? 4, s.OptionalInt("original_max_position_embeddings") ?? 8192),
            _ => throw new ModelFileException(f.Path, $"rope_scaling type '{type}' is not supported (supported: linear, llama3)."),
        };
    }
}
