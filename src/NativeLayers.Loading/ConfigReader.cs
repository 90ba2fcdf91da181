namespace NativeLayers.Loading;

/// <summary>Reads <c>config.json</c> into <see cref="ModelConfig"/>, validating what each model type needs.</summary>
public static class ConfigReader
{
    public static readonly IReadOnlyList<string> SupportedModelTypes =
        ["llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "olmo2", "gpt2", "gpt_neox", "bert", "mamba"];

    /// <summary>Where each model type keeps the common settings (GPT-2 has its own names).</summary>
    private sealed record FieldNames(string Hidden, string Layers, string Heads, string Intermediate, string Eps, string Positions, string Activation, string DefaultActivation);

    private static readonly FieldNames LlamaNames = new("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "rms_norm_eps", "max_position_embeddings", "hidden_act", "silu");
    private static readonly FieldNames Gpt2Names = new("n_embd", "n_layer", "n_head", "n_inner", "layer_norm_epsilon", "n_positions", "activation_function", "gelu_new");
    private static readonly FieldNames NeoxNames = LlamaNames with { Eps = "layer_norm_eps", DefaultActivation = "gelu" };
    private static readonly FieldNames MambaNames = LlamaNames with { Eps = "layer_norm_epsilon" };

    public static ModelConfig Read(string path)
    {
        using var doc = JsonFields.ParseFile(path);
        var f = new JsonFields(path, doc.RootElement);
        string modelType = f.OptionalString("model_type")
            ?? throw new ModelFileException(path, "required field 'model_type' is missing; cannot tell which architecture this is.");
        if (!SupportedModelTypes.Contains(modelType))
            throw new ModelFileException(path, $"model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)}).");
        bool llamaFamily = modelType is "llama" or "mistral" or "mixtral" or "qwen2" or "qwen3" or "gemma" or "gemma2" or "gemma3_text" or "phi3" or "olmo2";
        bool gemma = modelType is "gemma" or "gemma2" or "gemma3_text";
        bool mamba = modelType == "mamba";
        var names = modelType switch { "gpt2" => Gpt2Names, "gpt_neox" or "bert" => NeoxNames, "mamba" => MambaNames, _ => LlamaNames };

        int hidden = f.PositiveInt(names.Hidden);
        int heads = mamba ? 1 : f.PositiveInt(names.Heads); // no attention: one "head" as wide as the stream keeps the shapes defined
        int kvHeads = llamaFamily ? f.PositiveInt("num_key_value_heads", heads) : heads;
        if (heads % kvHeads != 0)
            throw new ModelFileException(path, $"num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kvHeads}).");
        int? explicitHeadDim = llamaFamily ? f.OptionalInt("head_dim") : null;
        if (explicitHeadDim == null && hidden % heads != 0)
            throw new ModelFileException(path, $"{names.Hidden} ({hidden}) is not divisible by {names.Heads} ({heads}) and no head_dim is given.");
        int headDim = explicitHeadDim ?? hidden / heads;
        if (headDim <= 0) throw new ModelFileException(path, $"head_dim must be positive, got {headDim}.");
        int rotaryDim = modelType switch
        {
            "gpt2" or "bert" or "mamba" => 0,
            "gpt_neox" => (int)(headDim * (f.OptionalPositiveDouble("rotary_pct", 1, "the fraction of each head that is rotated") ?? 1.0)),
            _ => headDim,
        };
        if (rotaryDim % 2 != 0 || rotaryDim > headDim)
            throw new ModelFileException(path, $"rotary dimension {rotaryDim} must be even and at most head_dim {headDim}.");

        int? window = modelType switch
        {
            // HF applies sliding_window in the eager mask for these types whenever it is set (Gemma 2/3: on local layers).
            "mistral" or "mixtral" or "qwen2" or "qwen3" or "phi3" or "gemma2" or "gemma3_text" => f.OptionalInt("sliding_window"),
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
            NumLayers = f.PositiveInt(names.Layers),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            IntermediateSize = modelType switch
            {
                "gpt2" => f.PositiveInt(names.Intermediate, 4 * hidden),
                "mamba" => f.PositiveInt(names.Intermediate, f.PositiveInt("expand", 2) * hidden),
                _ => f.PositiveInt(names.Intermediate),
            },
            NormEps = f.OptionalPositiveDouble(names.Eps, 1, "a norm's epsilon")
                ?? throw new ModelFileException(path, $"required field '{names.Eps}' (a number) is missing."),
            RotaryDim = rotaryDim,
            RopeTheta = f.OptionalPositiveDouble(modelType == "gpt_neox" ? "rotary_emb_base" : "rope_theta", meaning: "the RoPE base") ?? 10000.0,
            RopeScaling = ReadRopeScaling(f),
            // A state-space model has no positions to run out of.
            MaxPositions = mamba ? int.MaxValue : f.PositiveInt(names.Positions, modelType is "gpt2" or "bert" ? null : 2048),
            // Hugging Face per-class defaults: GPT-2, Gemma and Mamba tie, the others do not.
            TieWordEmbeddings = f.OptionalBool("tie_word_embeddings") ?? (gemma || modelType is "gpt2" or "mamba"),
            Activation = ReadActivation(f, modelType, names),
            SlidingWindow = window,
            AttentionBias = modelType switch
            {
                "qwen2" or "gpt2" or "bert" => true,
                "gpt_neox" => f.OptionalBool("attention_bias") ?? true,
                _ => f.OptionalBool("attention_bias") ?? false,
            },
            ParallelResidual = modelType == "gpt_neox" && (f.OptionalBool("use_parallel_residual") ?? true),
            TypeVocabSize = modelType == "bert" ? f.PositiveInt("type_vocab_size", 2) : 0,
            BosTokenId = f.OptionalInt("bos_token_id"),
            EosTokenIds = f.IntOrIntList("eos_token_id"),
            PadTokenId = f.OptionalInt("pad_token_id"),
            TorchDtype = f.OptionalString("torch_dtype"),
            QueryPreAttnScalar = gemma ? f.OptionalPositiveDouble("query_pre_attn_scalar", meaning: "the attention scale's denominator") : null,
            AttentionSoftCap = modelType is "gemma2" or "gemma3_text" ? f.OptionalPositiveDouble("attn_logit_softcapping") : null,
            FinalLogitSoftCap = modelType is "gemma2" or "gemma3_text" ? f.OptionalPositiveDouble("final_logit_softcapping") : null,
            SlidingWindowPattern = modelType == "gemma3_text" ? f.PositiveInt("sliding_window_pattern", 6) : null,
            Experts = modelType == "mixtral" ? f.PositiveInt("num_local_experts") : 0,
            ExpertsPerToken = modelType == "mixtral" ? f.PositiveInt("num_experts_per_tok") : 0,
            RopeLocalTheta = modelType == "gemma3_text" ? f.OptionalPositiveDouble("rope_local_base_freq", meaning: "the local layers' RoPE base") ?? 10000.0 : null,
            StateSpace = mamba ? ReadStateSpace(f, hidden) : null,
        };
        if (config.RopeScaling is { IsLongRope: true } longRope && (longRope.ShortFactor!.Length != rotaryDim / 2 || longRope.LongFactor!.Length != rotaryDim / 2))
            throw new ModelFileException(path, $"rope_scaling.short_factor and long_factor need {rotaryDim / 2} values each (one per rotary frequency of head_dim {headDim}), " +
                $"got {longRope.ShortFactor.Length} and {longRope.LongFactor!.Length}.");
        if (config.ExpertsPerToken > config.Experts)
            throw new ModelFileException(path, $"num_experts_per_tok ({config.ExpertsPerToken}) must be at most num_local_experts ({config.Experts}).");
        return config;
    }

    private static StateSpaceConfig ReadStateSpace(JsonFields f, int hidden)
    {
        bool autoRank = f.Get("time_step_rank") is { ValueKind: System.Text.Json.JsonValueKind.String } rank && rank.GetString() == "auto";
        return new StateSpaceConfig(
            StateSize: f.PositiveInt("state_size", 16),
            ConvKernel: f.PositiveInt("conv_kernel", 4),
            TimeStepRank: autoRank ? (hidden + 15) / 16 : f.PositiveInt("time_step_rank", (hidden + 15) / 16),
            ProjectionBias: f.OptionalBool("use_bias") ?? false,
            ConvBias: f.OptionalBool("use_conv_bias") ?? true);
    }

    private static Activation ReadActivation(JsonFields f, string modelType, FieldNames names)
    {
        // Gemma (HF 4.40): hidden_activation decides, and gelu_pytorch_tanh when it is absent; hidden_act is ignored.
        string name = modelType is "gemma" or "gemma2" or "gemma3_text"
            ? f.OptionalString("hidden_activation") ?? "gelu_pytorch_tanh"
            : f.OptionalString(names.Activation) ?? names.DefaultActivation;
        return ParseActivation(f.Path, name);
    }

    public static Activation ParseActivation(string path, string name) => name switch
    {
        "silu" or "swish" => Activation.Silu,
        "gelu_pytorch_tanh" or "gelu_new" or "gelu_fast" => Activation.GeluTanh,
        "gelu" => Activation.Gelu,
        "relu" => Activation.Relu,
        "solu_ln" => Activation.SoluLn,
        _ => throw new ModelFileException(path, $"activation '{name}' is not supported (supported: silu, gelu, gelu_pytorch_tanh, gelu_new, relu, solu_ln)."),
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
            "linear" => new RopeScaling(type, Factor(s)),
            "llama3" => Llama3Scaling(s, type),
            "yarn" => YarnScaling(f, s, type),
            "longrope" or "su" => LongRopeScaling(f, s),
            _ => throw new ModelFileException(f.Path, $"rope_scaling type '{type}' is not supported (supported: linear, llama3, yarn, longrope)."),
        };
    }

    private static double Factor(JsonFields s) =>
        s.OptionalPositiveDouble("factor", meaning: "the scaling factor") ?? throw new ModelFileException(s.Path, "required field 'rope_scaling.factor' (a positive number) is missing.");

    /// <summary>
    /// YaRN as Hugging Face 4.51 reads it: with original_max_position_embeddings given, the factor is
    /// max_position_embeddings / original_max_position_embeddings (the 'factor' field then only has to be present).
    /// </summary>
    private static RopeScaling YarnScaling(JsonFields f, JsonFields s, string type)
    {
        if (s.Has("mscale") || s.Has("mscale_all_dim"))
            throw new ModelFileException(s.Path, "rope_scaling.mscale / mscale_all_dim (DeepSeek-style YaRN) are not supported.");
        double factor = Factor(s);
        int? original = s.Has("original_max_position_embeddings") ? s.PositiveInt("original_max_position_embeddings") : null;
        int maxPositions = f.PositiveInt("max_position_embeddings", 2048);
        if (original is { } o) factor = (double)maxPositions / o;
        double betaFast = s.OptionalPositiveDouble("beta_fast") ?? 32, betaSlow = s.OptionalPositiveDouble("beta_slow") ?? 1;
        return new RopeScaling(type, factor, OriginalMaxPositions: original ?? maxPositions, BetaFast: betaFast, BetaSlow: betaSlow,
            AttentionFactor: s.OptionalPositiveDouble("attention_factor"));
    }

    /// <summary>
    /// LongRoPE as Hugging Face 4.51 reads it: the original context is the top-level original_max_position_embeddings
    /// (the factor then is max_position_embeddings over it), and cos and sin scale by √(1 + ln factor / ln original)
    /// unless attention_factor says otherwise. "su" is the name early Phi-3 configs used.
    /// </summary>
    private static RopeScaling LongRopeScaling(JsonFields f, JsonFields s)
    {
        int maxPositions = f.PositiveInt("max_position_embeddings", 2048);
        int? original = f.Has("original_max_position_embeddings") ? f.PositiveInt("original_max_position_embeddings") : null;
        double factor = original is { } o ? (double)maxPositions / o : Factor(s);
        int originalPositions = original ?? maxPositions;
        double attention = s.OptionalPositiveDouble("attention_factor")
            ?? (factor <= 1 ? 1 : Math.Sqrt(1 + Math.Log(factor) / Math.Log(originalPositions)));
        double[] Factors(string name)
        {
            var list = s.Get(name) is { ValueKind: System.Text.Json.JsonValueKind.Array } a ? a.EnumerateArray().ToList() : null;
            if (list == null || list.Count == 0 || list.Any(e => e.ValueKind != System.Text.Json.JsonValueKind.Number || e.GetDouble() <= 0))
                throw new ModelFileException(s.Path, $"rope_scaling.{name} must be a list of positive numbers, one per rotary frequency.");
            return list.Select(e => e.GetDouble()).ToArray();
        }
        return new RopeScaling("longrope", factor, OriginalMaxPositions: originalPositions, AttentionFactor: attention,
            ShortFactor: Factors("short_factor"), LongFactor: Factors("long_factor"));
    }

    private static RopeScaling Llama3Scaling(JsonFields s, string type)
    {
        double low = s.OptionalPositiveDouble("low_freq_factor") ?? 1, high = s.OptionalPositiveDouble("high_freq_factor") ?? 4;
        if (high <= low)
            throw new ModelFileException(s.Path, $"rope_scaling.high_freq_factor ({high}) must be larger than low_freq_factor ({low}).");
        return new RopeScaling(type, Factor(s), low, high, s.PositiveInt("original_max_position_embeddings", 8192));
    }
}
