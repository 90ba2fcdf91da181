using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.Loading.Numpy;

namespace NativeLayers.Analysis.Saes;

/// <summary>
/// Reads sparse autoencoders in the formats people publish them in, checking every shape and field:
/// SAELens (cfg.json + sae_weights.safetensors; the v6 layout with cfg "meta" and the v3–v5 layout with hook_name and
/// activation_fn_kwargs at the top level), Gemma Scope (params.npz: W_enc, W_dec, b_enc, b_dec, threshold; JumpReLU,
/// hook named by the caller) and EleutherAI sparsify (cfg.json + sae.safetensors: encoder.weight, encoder.bias, W_dec,
/// b_dec; ReLU then top-k as its SparseCoder encodes, b_dec subtracted first; the hook from the folder's "layers.N" name).
/// Followed: SAELens 6 (sae_lens/saes), sparsify's SparseCoder, Gemma Scope's published params.npz layout.
/// </summary>
public static class SaeFiles
{
    /// <summary>Loads <c>PATH</c> or <c>PATH@HOOK</c> (the hook in TransformerLens form, overriding the SAE's own).</summary>
    public static SparseAutoencoder Load(string spec)
    {
        int at = spec.LastIndexOf('@');
        string path = at > 0 ? spec[..at] : spec;
        string? hook = at > 0 ? spec[(at + 1)..] : null;
        if (File.Exists(path) && path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)) return GemmaScope(path, hook);
        if (!Directory.Exists(path)) throw new ModelFileException(path, "SAE not found: give a folder (SAELens or sparsify) or a Gemma Scope params.npz.");
        if (File.Exists(Path.Combine(path, "sae_weights.safetensors"))) return SaeLens(path, hook);
        if (File.Exists(Path.Combine(path, "sae.safetensors"))) return Sparsify(path, hook);
        if (File.Exists(Path.Combine(path, "params.npz"))) return GemmaScope(Path.Combine(path, "params.npz"), hook);
        throw new ModelFileException(path, "no SAE weights here: expected sae_weights.safetensors + cfg.json (SAELens), sae.safetensors + cfg.json (sparsify) or params.npz (Gemma Scope).");
    }

    private static SparseAutoencoder SaeLens(string folder, string? hookOverride)
    {
        string cfgPath = Path.Combine(folder, "cfg.json");
        using var doc = JsonFields.ParseFile(cfgPath);
        var cfg = new JsonFields(cfgPath, doc.RootElement);
        var meta = cfg.Get("meta") is { ValueKind: JsonValueKind.Object } m ? new JsonFields(cfgPath, m, "meta.") : null;
        int dIn = cfg.PositiveInt("d_in"), dSae = cfg.PositiveInt("d_sae");
        string hook = hookOverride ?? meta?.OptionalString("hook_name") ?? cfg.OptionalString("hook_name")
            ?? throw new ModelFileException(cfgPath, "no hook_name (top level or in meta); name the hook as SAE@blocks.L.hook_resid_post.");
        string activationFn = cfg.OptionalString("activation_fn") ?? cfg.OptionalString("activation_fn_str") ?? "relu";
        string architecture = cfg.OptionalString("architecture") ?? "standard";
        var kind = (architecture, activationFn) switch
        {
            ("standard", "relu") => SaeArchitecture.Standard,
            ("standard" or "topk", "topk") or ("topk", _) => SaeArchitecture.TopK,
            ("jumprelu", _) => SaeArchitecture.JumpRelu,
            ("gated", _) => SaeArchitecture.Gated,
            _ => throw new ModelFileException(cfgPath, $"SAE architecture '{architecture}' with activation '{activationFn}' is not supported (standard/relu, topk, jumprelu, gated)."),
        };
        int k = kind != SaeArchitecture.TopK ? 0
            : cfg.Has("k") ? cfg.PositiveInt("k")
            : cfg.Get("activation_fn_kwargs") is { ValueKind: JsonValueKind.Object } kw ? new JsonFields(cfgPath, kw, "activation_fn_kwargs.").PositiveInt("k")
            : throw new ModelFileException(cfgPath, "a topk SAE needs k (or activation_fn_kwargs.k).");
        string normalize = cfg.OptionalString("normalize_activations") ?? "none";
        var normalization = normalize switch
        {
            "none" or "expected_average_only_in" => SaeNormalization.None,
            "constant_norm_rescale" => SaeNormalization.ConstantNormRescale,
            "layer_norm" => SaeNormalization.LayerNorm,
            _ => throw new ModelFileException(cfgPath, $"normalize_activations '{normalize}' is not supported (none, expected_average_only_in, constant_norm_rescale, layer_norm)."),
        };
        if (cfg.OptionalString("reshape_activations") is { } reshape and not "none")
            throw new ModelFileException(cfgPath, $"reshape_activations '{reshape}' (hook_z SAEs) is not supported; SAEs on residual and sub-layer outputs are.");

        string weightsPath = Path.Combine(folder, "sae_weights.safetensors");
        using var weights = SafetensorsFile.Open(weightsPath);
        float[] Read(string name, params long[] shape) => Tensor(weights, weightsPath, name, shape);
        var header = new SaeHeader(folder, "SAELens", hook, kind, dIn, dSae, k, cfg.OptionalBool("apply_b_dec_to_input") ?? true, normalization);
        return kind == SaeArchitecture.Gated
            ? new SparseAutoencoder(header, Read("W_enc", dIn, dSae), Read("b_gate", dSae), Read("W_dec", dSae, dIn), Read("b_dec", dIn),
                gate: (Read("r_mag", dSae), Read("b_mag", dSae)))
            : new SparseAutoencoder(header, Read("W_enc", dIn, dSae), Read("b_enc", dSae), Read("W_dec", dSae, dIn), Read("b_dec", dIn),
                kind == SaeArchitecture.JumpRelu ? Read("threshold", dSae) : null);
    }

    private static SparseAutoencoder GemmaScope(string path, string? hook)
    {
        if (hook == null) throw new ModelFileException(path, "a Gemma Scope params.npz does not say where it reads; name the hook as params.npz@blocks.L.hook_resid_post.");
        var arrays = NpyArray.ReadArchive(path);
        NpyArray Get(string name) => arrays.TryGetValue(name, out var a) ? a
            : throw new ModelFileException(path, $"array '{name}' is missing (a Gemma Scope file has W_enc, W_dec, b_enc, b_dec and threshold).");
        var wEnc = Get("W_enc");
        if (wEnc.Shape.Length != 2) throw new ModelFileException(path, $"W_enc must be 2-D [d_model, d_sae], got [{string.Join(", ", wEnc.Shape)}].");
        int dIn = (int)wEnc.Shape[0], dSae = (int)wEnc.Shape[1];
        float[] Read(string name, params long[] shape)
        {
            var a = Get(name);
            if (!a.Shape.SequenceEqual(shape))
                throw new ModelFileException(path, $"array '{name}' has shape [{string.Join(", ", a.Shape)}], expected [{string.Join(", ", shape)}] for d_model {dIn}, d_sae {dSae}.");
            return a.Values;
        }
        var header = new SaeHeader(path, "Gemma Scope", hook, SaeArchitecture.JumpRelu, dIn, dSae, SubtractDecoderBiasFromInput: false);
        return new SparseAutoencoder(header, wEnc.Values, Read("b_enc", dSae), Read("W_dec", dSae, dIn), Read("b_dec", dIn), Read("threshold", dSae));
    }

    private static SparseAutoencoder Sparsify(string folder, string? hookOverride)
    {
        string cfgPath = Path.Combine(folder, "cfg.json");
        using var doc = JsonFields.ParseFile(cfgPath);
        var cfg = new JsonFields(cfgPath, doc.RootElement);
        int k = cfg.PositiveInt("k");
        if (cfg.OptionalBool("skip_connection") == true || cfg.OptionalBool("transcode") == true)
            throw new ModelFileException(cfgPath, "sparsify transcoders (transcode, skip_connection) are not supported; sparse autoencoders are.");
        if (cfg.OptionalString("activation") is { } activation and not "topk")
            throw new ModelFileException(cfgPath, $"sparsify activation '{activation}' is not supported (topk).");
        string weightsPath = Path.Combine(folder, "sae.safetensors");
        using var weights = SafetensorsFile.Open(weightsPath);
        var encoder = weights.Tensors.FirstOrDefault(t => t.Name == "encoder.weight")
            ?? throw new ModelFileException(weightsPath, "tensor 'encoder.weight' is missing (a sparsify SAE has encoder.weight, encoder.bias, W_dec and b_dec).");
        if (encoder.Shape.Length != 2) throw new ModelFileException(weightsPath, $"encoder.weight must be 2-D [num_latents, d_in], got {encoder.ShapeText}.");
        int dSae = (int)encoder.Shape[0], dIn = (int)encoder.Shape[1];
        if (cfg.OptionalInt("d_in") is { } declared && declared != dIn)
            throw new ModelFileException(cfgPath, $"d_in is {declared}, but encoder.weight is {encoder.ShapeText}.");
        float[] Read(string name, params long[] shape) => Tensor(weights, weightsPath, name, shape);
        // nn.Linear's [num_latents, d_in] is W_enc transposed; the constructor wants W_enc as [d_in, d_sae].
        var rows = Read("encoder.weight", dSae, dIn);
        var wEnc = new float[rows.Length];
        for (int f = 0; f < dSae; f++)
            for (int i = 0; i < dIn; i++) wEnc[(long)i * dSae + f] = rows[(long)f * dIn + i];
        string hook = hookOverride ?? HookFromFolder(folder)
            ?? throw new ModelFileException(folder, "the hook is not in the folder name (layers.N); name it as SAE@blocks.N.hook_resid_post.");
        var header = new SaeHeader(folder, "sparsify", hook, SaeArchitecture.TopK, dIn, dSae, k);
        return new SparseAutoencoder(header, wEnc, Read("encoder.bias", dSae), Read("W_dec", dSae, dIn), Read("b_dec", dIn));
    }

    /// <summary>sparsify saves one folder per module: "layers.N" is the output of block N (the residual after it).</summary>
    private static string? HookFromFolder(string folder) =>
        System.Text.RegularExpressions.Regex.Match(Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)), @"^layers\.(\d+)$") is { Success: true } m
            ? $"blocks.{m.Groups[1].Value}.hook_resid_post" : null;

    private static float[] Tensor(SafetensorsFile file, string path, string name, long[] shape)
    {
        var info = file.Tensors.FirstOrDefault(t => t.Name == name)
            ?? throw new ModelFileException(path, $"tensor '{name}' is missing.");
        if (!info.Shape.SequenceEqual(shape))
            throw new ModelFileException(path, $"tensor '{name}' has shape {info.ShapeText}, expected [{string.Join(", ", shape)}].");
        if (info.DType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ModelFileException(path, $"tensor '{name}' is {info.DType}; SAE weights must be F32, F16 or BF16.");
        return file.ReadFloat32(name);
    }
}
