using BenchmarkDotNet.Attributes;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Bench;

/// <summary>Prefill of one fresh sequence; logits for its last token only.</summary>
[Config(typeof(ForwardConfig))]
public class Prefill
{
    private Transformer _model = null!;
    private int[] _tokens = null!;

    [Params(DType.F32, DType.BF16)] public DType DType { get; set; }
    [Params(128, 512)] public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchModels.Load(DType);
        _tokens = BenchModels.Tokens(Tokens, seed: 1);
    }

    [GlobalCleanup] public void Cleanup() => _model.Dispose();

    [Benchmark] public ForwardResult Run() => _model.Forward([_tokens], LogitsMode.LastPerSequence);
}

/// <summary>
/// Decode: each of Batch sequences holds a KV cache of Context tokens (prefilled, unmeasured, before every
/// iteration) and gets Steps more tokens, one per sequence per forward call. One operation = one forward call.
/// </summary>
[Config(typeof(ForwardConfig))]
public class Decode
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
        _model = BenchModels.Load(DType);
        _prompts = Enumerable.Range(0, Batch).Select(b => BenchModels.Tokens(Context, seed: 10 + b)).ToArray();
        var next = BenchModels.Tokens(Steps * Batch, seed: 2);
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
