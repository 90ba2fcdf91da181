using System.Runtime.InteropServices;
using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.ModelGen;

/// <summary>What was written.</summary>
public sealed record GeneratedModel(string Directory, ModelSpec Spec, DType DType, long Parameters, long Bytes);

/// <summary>
/// Writes a random-weight Hugging Face model folder (any of <see cref="ModelSpec.ModelTypes"/>): config.json, generation_config.json and
/// model.safetensors. Matrices are N(0, 1/fan_in) (std 1/sqrt(fan_in)), so activations keep unit scale through the
/// blocks; embeddings are N(0, 1), norm weights 1 ± 0.02 and biases N(0, 0.1²). Values depend only on the seed and the
/// tensor name, not on thread timing.
/// </summary>
public static class ModelGenerator
{
    private const int ChunkElements = 1 << 16;

    public static GeneratedModel Generate(string directory, ModelSpec spec, DType dtype, ulong seed = 0)
    {
        if (dtype is not (DType.F32 or DType.BF16 or DType.F16))
            throw new ArgumentException($"dtype must be F32, BF16 or F16, got {dtype}.");
        spec.Validate();
        Directory.CreateDirectory(directory);
        WriteJson(Path.Combine(directory, "config.json"), w => WriteConfig(w, spec, dtype));
        WriteJson(Path.Combine(directory, "generation_config.json"), w =>
        {
            w.WriteNumber("bos_token_id", spec.BosTokenId);
            w.WriteNumber("eos_token_id", spec.EosTokenId);
        });
        // The writer materialises the tensor list before writing, so the model is held in memory once, at its
        // stored dtype (each tensor is generated straight into its final bytes; no float32 copy of the model).
        string weights = Path.Combine(directory, "model.safetensors");
        SafetensorsWriter.Write(weights, spec.Tensors().Select(t => Tensor(t, dtype, seed)),
            new Dictionary<string, string> { ["format"] = "pt" });
        return new GeneratedModel(directory, spec, dtype, spec.ParameterCount, new FileInfo(weights).Length);
    }

    /// <summary>Generates into <paramref name="directory"/> unless a complete folder is already there.</summary>
    public static string EnsureCached(string directory, ModelSpec spec, DType dtype, ulong seed = 0)
    {
        bool complete = File.Exists(Path.Combine(directory, "config.json")) && File.Exists(Path.Combine(directory, "model.safetensors"));
        if (!complete) Generate(directory, spec, dtype, seed);
        return directory;
    }

    private static void WriteConfig(Utf8JsonWriter w, ModelSpec spec, DType dtype)
    {
        w.WriteString("model_type", spec.ModelType);
        w.WriteStartArray("architectures");
        w.WriteStringValue(spec.ModelType switch
        {
            "gpt2" => "GPT2LMHeadModel", "gpt_neox" => "GPTNeoXForCausalLM", "qwen3" => "Qwen3ForCausalLM", "gemma2" => "Gemma2ForCausalLM",
            "mixtral" => "MixtralForCausalLM", "mamba" => "MambaForCausalLM", _ => "LlamaForCausalLM",
        });
        w.WriteEndArray();
        w.WriteNumber("vocab_size", spec.Vocab);
        switch (spec.ModelType)
        {
            case "gpt2":
                w.WriteNumber("n_embd", spec.Hidden);
                w.WriteNumber("n_layer", spec.Layers);
                w.WriteNumber("n_head", spec.Heads);
                if (spec.Intermediate == 4 * spec.Hidden) w.WriteNull("n_inner"); // what GPT-2 checkpoints say
                else w.WriteNumber("n_inner", spec.Intermediate);
                w.WriteString("activation_function", spec.ActivationName);
                w.WriteNumber("n_positions", spec.MaxPositions);
                w.WriteNumber("n_ctx", spec.MaxPositions);
                w.WriteNumber("layer_norm_epsilon", spec.NormEps);
                w.WriteBoolean("scale_attn_weights", true);
                break;
            case "gpt_neox":
                w.WriteNumber("hidden_size", spec.Hidden);
                w.WriteNumber("num_hidden_layers", spec.Layers);
                w.WriteNumber("num_attention_heads", spec.Heads);
                w.WriteNumber("intermediate_size", spec.Intermediate);
                w.WriteString("hidden_act", spec.ActivationName);
                w.WriteNumber("max_position_embeddings", spec.MaxPositions);
                w.WriteNumber("layer_norm_eps", spec.NormEps);
                w.WriteNumber("rotary_pct", spec.RotaryPct);
                w.WriteNumber("rotary_emb_base", spec.RopeTheta);
                w.WriteBoolean("use_parallel_residual", spec.ParallelResidual);
                w.WriteBoolean("attention_bias", true);
                break;
            case "mamba":
                w.WriteNumber("hidden_size", spec.Hidden);
                w.WriteNumber("num_hidden_layers", spec.Layers);
                w.WriteNumber("intermediate_size", spec.Intermediate);
                w.WriteNumber("expand", spec.Intermediate / spec.Hidden);
                w.WriteNumber("state_size", spec.StateSize);
                w.WriteNumber("conv_kernel", spec.ConvKernel);
                w.WriteNumber("time_step_rank", spec.TimeStepRank);
                w.WriteBoolean("use_bias", false);
                w.WriteBoolean("use_conv_bias", true);
                w.WriteString("hidden_act", spec.ActivationName);
                w.WriteNumber("layer_norm_epsilon", spec.NormEps);
                w.WriteBoolean("residual_in_fp32", true);
                break;
            default:
                w.WriteNumber("hidden_size", spec.Hidden);
                w.WriteNumber("intermediate_size", spec.Intermediate);
                w.WriteNumber("num_hidden_layers", spec.Layers);
                w.WriteNumber("num_attention_heads", spec.Heads);
                w.WriteNumber("num_key_value_heads", spec.KvHeads);
                w.WriteString("hidden_act", spec.ActivationName);
                w.WriteNumber("max_position_embeddings", spec.MaxPositions);
                w.WriteNumber("rms_norm_eps", spec.NormEps);
                w.WriteNumber("rope_theta", spec.RopeTheta);
                w.WriteBoolean("attention_bias", false);
                if (spec.ExplicitHeadDim is { } headDim) w.WriteNumber("head_dim", headDim);
                if (spec.ModelType == "gemma2")
                {
                    w.WriteString("hidden_activation", spec.ActivationName);
                    w.WriteNumber("query_pre_attn_scalar", spec.QueryPreAttnScalar);
                    w.WriteNumber("sliding_window", spec.SlidingWindow);
                    w.WriteNumber("attn_logit_softcapping", 50.0);
                    w.WriteNumber("final_logit_softcapping", 30.0);
                }
                if (spec.ModelType == "mixtral")
                {
                    w.WriteNumber("num_local_experts", spec.Experts);
                    w.WriteNumber("num_experts_per_tok", spec.ExpertsPerToken);
                }
                break;
        }
        w.WriteBoolean("tie_word_embeddings", spec.TiedHead);
        w.WriteNumber("bos_token_id", spec.BosTokenId);
        w.WriteNumber("eos_token_id", spec.EosTokenId);
        w.WriteString("torch_dtype", dtype switch { DType.BF16 => "bfloat16", DType.F16 => "float16", _ => "float32" });
    }

    private static void WriteJson(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    }

    private static TensorData Tensor(TensorSpec t, DType dtype, ulong seed)
    {
        var (mean, std) = t.Role switch
        {
            TensorRole.Embedding => (0f, 1f),
            TensorRole.Norm => (1f, 0.02f),
            TensorRole.OffsetNorm => (0f, 0.02f),
            TensorRole.Bias => (0f, 0.1f),
            _ => (0f, 1f / MathF.Sqrt(t.FanIn)),
        };
        long count = t.Elements;
        var bytes = new byte[checked(count * dtype.SizeOf())];
        ulong tensorSeed = Mix(seed ^ Fnv1a(t.Name));
        int chunks = (int)((count + ChunkElements - 1) / ChunkElements);
        Parallel.For(0, chunks, () => new float[ChunkElements], (chunk, _, scratch) =>
        {
            long start = (long)chunk * ChunkElements;
            int n = (int)Math.Min(ChunkElements, count - start);
            var values = scratch.AsSpan(0, n);
            FillNormal(values, mean, std, Mix(tensorSeed + (ulong)chunk));
            Encode(values, dtype, bytes.AsSpan((int)(start * dtype.SizeOf()), n * dtype.SizeOf()));
            return scratch;
        }, _ => { });
        return new TensorData(t.Name, dtype, t.Shape, bytes);
    }

    private static void Encode(ReadOnlySpan<float> values, DType dtype, Span<byte> destination)
    {
        switch (dtype)
        {
            case DType.F32:
                MemoryMarshal.AsBytes(values).CopyTo(destination);
                break;
            case DType.BF16:
                var bf16 = MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < values.Length; i++)
                {
                    uint bits = BitConverter.SingleToUInt32Bits(values[i]);
                    bf16[i] = (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16); // round to nearest even
                }
                break;
            default:
                var f16 = MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < values.Length; i++) f16[i] = BitConverter.HalfToUInt16Bits((Half)values[i]);
                break;
        }
    }

    /// <summary>Box–Muller over a SplitMix64 stream.</summary>
    private static void FillNormal(Span<float> values, float mean, float std, ulong state)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = ((Next(ref state) >> 11) + 1) * (1.0 / (1UL << 53)); // (0, 1]
            double u2 = (Next(ref state) >> 11) * (1.0 / (1UL << 53));
            double r = Math.Sqrt(-2 * Math.Log(u1));
            var (sin, cos) = Math.SinCos(2 * Math.PI * u2);
            values[i] = mean + std * (float)(r * cos);
            if (i + 1 < values.Length) values[i + 1] = mean + std * (float)(r * sin);
        }
    }

    private static ulong Next(ref ulong state) => Mix(state += 0x9E3779B97F4A7C15UL);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Fnv1a(string text)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char c in text) h = (h ^ c) * 0x100000001B3UL;
        return h;
    }
}
