using System.Diagnostics;
using System.Globalization;
using NativeLayers.Loading;
using NativeLayers.ModelGen;
using NativeLayers.Runtime;

const string Usage = """
    nl-modelgen: writes a random-weight Hugging Face model folder (config.json, generation_config.json, model.safetensors)
    in the llama, gpt2, gpt_neox, qwen3, gemma2, mixtral or mamba layout (as the Hugging Face classes save them).

    usage: nl-modelgen --out DIR [--preset NAME] [--dtype f32|bf16|f16] [--seed S]
                       [--hidden N] [--layers N] [--heads N] [--kv-heads N] [--intermediate N] [--vocab N]
                       [--max-positions N] [--activation NAME] [--rotary-pct F] [--sequential] [--verify]

      --preset       base shape (default tiny); the dimension options override it. Presets:
                       llama:    tiny, llama-768, llama-1b, llama-1.1b (2048 wide, 16 layers, GQA 32/8, MLP 8192)
                       gpt2:     gpt2-tiny, gpt2-small (GPT-2 124M shape, tied head)
                       qwen3:    qwen3-tiny, qwen3-0.6b (Qwen3-0.6B shape: head_dim 128, q/k norms, tied head)
                       gpt_neox: neox-tiny, pythia-160m (Pythia-160M shape, untied embed_out)
                       gemma2:   gemma2-tiny, gemma2-2b (Gemma-2-2B shape: head_dim 256, soft caps, local/global layers)
                       mixtral:  mixtral-tiny (4 experts, top 2)
                       mamba:    mamba-tiny, mamba-130m (Mamba-130M shape: 1536 channels, state 16, tied head)
      --dtype        weight dtype (default f32); norm weights and biases use it too
      --seed         random seed (default 0); the same seed and shape give the same file
      --kv-heads     grouped-query families (llama, qwen3, gemma2, mixtral); defaults to --heads when --heads is given (else the preset's)
      --activation   config.json activation (default silu / gelu_new / gelu); solu_ln (gpt2 only) also writes
                     the per-layer mlp.ln LayerNorm of width n_inner
      --rotary-pct   gpt_neox: fraction of each head that is rotated (default 0.25)
      --sequential   gpt_neox: use_parallel_residual false (x += attn(ln1(x)); x += mlp(ln2(x)))
      --verify       load the folder with the runtime and run one forward pass afterwards

    known-answer models for the studies (tune-top and interpolate: llama or BERT folders; rotate: llama only):
      nl-modelgen derive tune-top --from DIR --out DIR --from-block K [--noise F] [--seed S]
                     perturb every matrix of blocks >= K by noise·std (default 0.5); lower blocks stay identical
      nl-modelgen derive rotate --from DIR --out DIR [--seed S]
                     rotate the residual basis by a random orthogonal matrix (norm weights folded in): same function
      nl-modelgen derive interpolate --from A --to B --out DIR [--steps N]
                     N + 1 checkpoints DIR/step-0 .. DIR/step-N along (1 - t)·A + t·B (default N = 4)
    """;

try
{
    if (args.Length > 0 && args[0] == "derive") return Derive(args[1..]);
    var options = ParseArgs(args);
    if (options.ContainsKey("help") || args.Length == 0)
    {
        Console.WriteLine(Usage);
        return 0;
    }
    string outDir = options.GetValueOrDefault("out") ?? throw new ArgumentException("--out DIR is required.");
    var spec = ModelSpec.Preset(options.GetValueOrDefault("preset") ?? "tiny");
    spec = spec with
    {
        Hidden = IntOption(options, "hidden") ?? spec.Hidden,
        Layers = IntOption(options, "layers") ?? spec.Layers,
        Heads = IntOption(options, "heads") ?? spec.Heads,
        KvHeads = IntOption(options, "kv-heads") ?? IntOption(options, "heads") ?? spec.KvHeads,
        Intermediate = IntOption(options, "intermediate") ?? spec.Intermediate,
        Vocab = IntOption(options, "vocab") ?? spec.Vocab,
        MaxPositions = IntOption(options, "max-positions") ?? spec.MaxPositions,
        Activation = options.GetValueOrDefault("activation") ?? spec.Activation,
        RotaryPct = options.TryGetValue("rotary-pct", out var pct) ? double.Parse(pct!, CultureInfo.InvariantCulture) : spec.RotaryPct,
        ParallelResidual = !options.ContainsKey("sequential") && spec.ParallelResidual,
    };
    DType dtype = (options.GetValueOrDefault("dtype") ?? "f32").ToLowerInvariant() switch
    {
        "f32" => DType.F32,
        "bf16" => DType.BF16,
        "f16" => DType.F16,
        var other => throw new ArgumentException($"--dtype must be f32, bf16 or f16, got '{other}'."),
    };
    ulong seed = options.TryGetValue("seed", out var s) ? ulong.Parse(s!, CultureInfo.InvariantCulture) : 0;

    var clock = Stopwatch.StartNew();
    var model = ModelGenerator.Generate(outDir, spec, dtype, seed);
    Console.WriteLine($"wrote {Path.GetFullPath(model.Directory)}");
    Console.WriteLine($"  {spec.Id}, {dtype}, seed {seed}");
    Console.WriteLine($"  {model.Parameters:N0} parameters, model.safetensors {model.Bytes / 1e6:N1} MB, {clock.Elapsed.TotalSeconds:N1} s");
    if (options.ContainsKey("verify")) Verify(model.Directory, spec);
    return 0;
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or NativeLayersException)
{
    Console.Error.WriteLine($"nl-modelgen: {e.Message}");
    return 2;
}

static void Verify(string directory, ModelSpec spec)
{
    using var model = Transformer.Load(directory);
    int[] tokens = Enumerable.Range(0, 8).Select(i => (i * 7919 + 3) % spec.Vocab).ToArray();
    var result = model.Forward([tokens], LogitsMode.LastPerSequence);
    var logits = result.LastLogits(0);
    bool finite = true;
    float min = float.MaxValue, max = float.MinValue;
    foreach (float v in logits)
    {
        finite &= float.IsFinite(v);
        min = Math.Min(min, v);
        max = Math.Max(max, v);
    }
    Console.WriteLine($"  verify: loaded, forward of {tokens.Length} tokens -> {logits.Length} logits in [{min:G4}, {max:G4}]{(finite ? "" : " (NOT FINITE)")}");
    if (!finite) throw new NativeLayersException("the generated model produced non-finite logits.");
}

static int Derive(string[] args)
{
    if (args.Length == 0) throw new ArgumentException("derive needs tune-top, rotate or interpolate (see --help).");
    var o = new Dictionary<string, string>();
    for (int i = 1; i < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length) throw new ArgumentException($"derive {args[0]}: expected --name value pairs, got '{args[i]}'.");
        o[args[i][2..]] = args[i + 1];
    }
    string Need(string name) => o.TryGetValue(name, out var v) ? v : throw new ArgumentException($"derive {args[0]} needs --{name}.");
    ulong seed = o.TryGetValue("seed", out var s) ? ulong.Parse(s, CultureInfo.InvariantCulture) : 1;
    switch (args[0])
    {
        case "tune-top":
            DerivedModels.TuneTopLayers(Need("from"), Need("out"), int.Parse(Need("from-block"), CultureInfo.InvariantCulture),
                o.TryGetValue("noise", out var n) ? double.Parse(n, CultureInfo.InvariantCulture) : 0.5, seed);
            break;
        case "rotate":
            DerivedModels.RotateResidual(Need("from"), Need("out"), seed);
            break;
        case "interpolate":
            int steps = o.TryGetValue("steps", out var st) ? int.Parse(st, CultureInfo.InvariantCulture) : 4;
            if (steps < 1) throw new ArgumentException("--steps must be at least 1.");
            for (int k = 0; k <= steps; k++) DerivedModels.Interpolate(Need("from"), Need("to"), Path.Combine(Need("out"), $"step-{k}"), (double)k / steps);
            break;
        default:
            throw new ArgumentException($"derive knows tune-top, rotate and interpolate, not '{args[0]}'.");
    }
    Console.WriteLine($"wrote {Path.GetFullPath(Need("out"))}");
    return 0;
}

static Dictionary<string, string?> ParseArgs(string[] args)
{
    var flags = new HashSet<string> { "verify", "help", "sequential" };
    var result = new Dictionary<string, string?>();
    for (int i = 0; i < args.Length; i++)
    {
        string arg = args[i] == "-h" ? "--help" : args[i];
        if (!arg.StartsWith("--", StringComparison.Ordinal))
            throw new ArgumentException($"unexpected argument '{arg}' (see --help).");
        string name = arg[2..];
        if (flags.Contains(name)) result[name] = null;
        else if (i + 1 < args.Length) result[name] = args[++i];
        else throw new ArgumentException($"{arg} needs a value.");
    }
    string[] known = ["out", "preset", "dtype", "seed", "hidden", "layers", "heads", "kv-heads", "intermediate", "vocab", "max-positions", "activation", "rotary-pct", .. flags];
    foreach (var name in result.Keys)
        if (!known.Contains(name)) throw new ArgumentException($"unknown option --{name} (see --help).");
    return result;
}

static int? IntOption(Dictionary<string, string?> options, string name) =>
    options.TryGetValue(name, out var v) ? int.Parse(v!, CultureInfo.InvariantCulture) : null;
