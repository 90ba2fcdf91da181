using BenchmarkDotNet.Attributes;
using NativeLayers.Loading;
using NativeLayers.ModelGen;
using NativeLayers.Runtime;

namespace NativeLayers.Bench;

/// <summary>
/// Prefill of one fresh sequence; logits for its last token only. One subclass per model (its
/// <see cref="BenchModelAttribute"/>), so that --filter can pick models by class name.
/// </summary>
[Config(typeof(ForwardConfig))]
public abstract class PrefillBenchmark
{
    private Transformer _model = null!;
    private int[] _tokens = null!;

    [Params(DType.F32, DType.BF16)] public DType DType { get; set; }
    [Params(128, 512)] public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var spec = ModelSpec.Preset(BenchModels.PresetOf(GetType()));
        _model = BenchModels.Load(spec, DType);
        Console.WriteLine($"// {GetType().Name}: {spec.Id} {DType} from {_model.Folder.Directory}");
        _tokens = BenchModels.Tokens(spec, Tokens, seed: 1);
    }

    [GlobalCleanup] public void Cleanup() => _model.Dispose();

    [Benchmark] public ForwardResult Run() => _model.Forward([_tokens], LogitsMode.LastPerSequence);
}

/// <summary>
/// Decode: each of Batch sequences holds a KV cache of Context tokens (prefilled, unmeasured, before every
/// iteration) and gets Steps more tokens, one per sequence per forward call. One operation = one forward call.
/// </summary>
[Config(typeof(ForwardConfig))]
public abstract class DecodeBenchmark
{
    public const int Context = 128;
    public const int Steps = 16;
    private Transformer _model = null!;
    private int[][] _prompts = null!;
    private int[][][] _steps = null!;
    private Sequence[] _sequences = null!;

    [Params(DType.F32, DType.BF16)] public DType DType { get; set; }
    [Params(1, 8)] public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var spec = ModelSpec.Preset(BenchModels.PresetOf(GetType()));
        _model = BenchModels.Load(spec, DType);
        Console.WriteLine($"// {GetType().Name}: {spec.Id} {DType} from {_model.Folder.Directory}");
        _prompts = Enumerable.Range(0, Batch).Select(b => BenchModels.Tokens(spec, Context, seed: 10 + b)).ToArray();
        var next = BenchModels.Tokens(spec, Steps * Batch, seed: 2);
        _steps = Enumerable.Range(0, Steps).Select(s => Enumerable.Range(0, Batch).Select(b => new[] { next[s * Batch + b] }).ToArray()).ToArray();
    }

    [IterationSetup]
    public void FreshCaches()
    {
        _sequences = Enumerable.Range(0, Batch).Select(_ => _model.NewSequence(Context + Steps)).ToArray();
        _model.Forward(_sequences, _prompts, LogitsMode.None);
    }

    [GlobalCleanup] public void Cleanup() => _model.Dispose();

    [Benchmark(OperationsPerInvoke = Steps)]
    public void Step()
    {
        for (int s = 0; s < Steps; s++) _model.Forward(_sequences, _steps[s], LogitsMode.LastPerSequence);
    }
}

/// <summary>llama-768 (hidden 768, 12 layers, intermediate 2048, vocab 32000, untied head).</summary>
public class Prefill : PrefillBenchmark;

/// <summary>llama-768 (hidden 768, 12 layers, intermediate 2048, vocab 32000, untied head).</summary>
public class Decode : DecodeBenchmark;

/// <summary>GPT-2 124M shape (hidden 768, 12 layers, n_inner 3072, vocab 50257, head tied to wte, learned positions).</summary>
[BenchModel("gpt2-small")] public class Gpt2Prefill : PrefillBenchmark;

/// <summary>GPT-2 124M shape (hidden 768, 12 layers, n_inner 3072, vocab 50257, head tied to wte, learned positions).</summary>
[BenchModel("gpt2-small")] public class Gpt2Decode : DecodeBenchmark;

/// <summary>Pythia-160M shape (hidden 768, 12 layers, intermediate 3072, vocab 50304, untied embed_out, rotary on 16 of 64 dims).</summary>
[BenchModel("pythia-160m")] public class PythiaPrefill : PrefillBenchmark;

/// <summary>Pythia-160M shape (hidden 768, 12 layers, intermediate 3072, vocab 50304, untied embed_out, rotary on 16 of 64 dims).</summary>
[BenchModel("pythia-160m")] public class PythiaDecode : DecodeBenchmark;
