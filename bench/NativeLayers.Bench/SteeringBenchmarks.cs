using BenchmarkDotNet.Attributes;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Bench;

/// <summary>How steering is applied in a steering benchmark.</summary>
public enum SteeringMode
{
    /// <summary>No plan: the plain forward pass.</summary>
    None,
    /// <summary>One vector at the middle block, folded into the down projection's bias.</summary>
    OneLayer,
    /// <summary>A vector at every block, folded.</summary>
    EveryLayer,
    /// <summary>Baseline: a vector at every block added by a separate pass over the rows after each block (hook-style).</summary>
    EveryLayerSeparatePass,
}

/// <summary>The cost of steering during prefill (128 tokens) and decode (batch 1, 128 cached tokens), llama-768 F32.</summary>
[Config(typeof(ForwardConfig))]
public class SteeringCost
{
    private const int Context = 128, Steps = 16;
    private Transformer _model = null!;
    private int[] _prompt = null!;
    private ForwardOptions _options = null!;
    private Sequence _sequence = null!;

    [Params(SteeringMode.None, SteeringMode.OneLayer, SteeringMode.EveryLayer, SteeringMode.EveryLayerSeparatePass)]
    public SteeringMode Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchModels.Load(DType.F32);
        _prompt = BenchModels.Tokens(Context, seed: 3);
        var random = new Random(5);
        float[] Vector() => Enumerable.Range(0, _model.Width).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var plan = new SteeringPlan();
        switch (Mode)
        {
            case SteeringMode.OneLayer: plan.AddVector(_model.Layers / 2, Vector(), 2f); break;
            case SteeringMode.EveryLayer:
                for (int l = 0; l < _model.Layers; l++) plan.AddVector(l, Vector(), 2f);
                break;
            case SteeringMode.EveryLayerSeparatePass:
                for (int l = 0; l < _model.Layers; l++) plan.AddVector(l, Vector(), 2f, tokens: TokenSelection.StartingAt(0));
                break;
        }
        _options = new ForwardOptions { Logits = LogitsMode.LastPerSequence, Steering = Mode == SteeringMode.None ? null : plan };
    }

    [GlobalCleanup] public void Cleanup() => _model.Dispose();

    [Benchmark] public ForwardResult Prefill() => _model.Forward([_prompt], _options);

    [IterationSetup(Target = nameof(DecodeStep))]
    public void FreshCache()
    {
        _sequence = _model.NewSequence(Context + Steps);
        _model.Forward([_sequence], [_prompt], _options with { Logits = LogitsMode.None });
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public void DecodeStep()
    {
        for (int s = 0; s < Steps; s++) _model.Forward([_sequence], [[s + 7]], _options);
    }
}

public enum CaptureMode
{
    /// <summary>Forward only: every residual slot is already in host memory (zero-copy reads).</summary>
    SlotsInPlace,
    /// <summary>A capture plan returning every block's resid_post as a host tensor (the slot buffers themselves).</summary>
    CapturePlan,
    /// <summary>Sub-layer capture too: attn_out and mlp_out of every block (outputs that need their own buffers).</summary>
    CaptureSubLayers,
}

/// <summary>The cost of reading every layer during prefill of 4 × 128 tokens, llama-768 F32.</summary>
[Config(typeof(ForwardConfig))]
public class CaptureCost
{
    private Transformer _model = null!;
    private int[][] _batch = null!;
    private CapturePlan _plan = null!;

    [Params(CaptureMode.SlotsInPlace, CaptureMode.CapturePlan, CaptureMode.CaptureSubLayers)]
    public CaptureMode Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchModels.Load(DType.F32);
        _batch = Enumerable.Range(0, 4).Select(i => BenchModels.Tokens(128, seed: 20 + i)).ToArray();
        string points = Mode == CaptureMode.CaptureSubLayers ? "resid_post,attn_out,mlp_out" : "resid_post";
        _plan = new CapturePlan { Hooks = CapturePlan.ParseHooks(points, "all", _model.Layers) };
    }

    [GlobalCleanup] public void Cleanup() => _model.Dispose();

    [Benchmark]
    public object Capture() => Mode == CaptureMode.SlotsInPlace
        ? _model.Forward(_batch, LogitsMode.None)
        : Capturer.Run(_model, _batch, _plan);
}

/// <summary>Dataset capture to disk (every block's resid_post, all tokens, F32) against the disk's plain write speed.</summary>
[Config(typeof(ForwardConfig))]
public class CaptureToDisk
{
    private Transformer _model = null!;
    private int[][] _prompts = null!;
    private string _directory = "";
    private byte[] _block = null!;

    public const int Prompts = 32, TokensPerPrompt = 128;

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchModels.Load(DType.F32);
        _prompts = Enumerable.Range(0, Prompts).Select(i => BenchModels.Tokens(TokensPerPrompt, seed: 40 + i)).ToArray();
        _directory = Path.Combine(Path.GetTempPath(), "nl-bench-capture");
        _block = new byte[1 << 20];
        new Random(1).NextBytes(_block);
    }

    [IterationSetup] public void Clean() { if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true); }

    [GlobalCleanup] public void Cleanup() { Clean(); _model.Dispose(); }

    /// <summary>Bytes one capture writes: prompts × tokens × layers × width × 4.</summary>
    public long CaptureBytes => (long)Prompts * TokensPerPrompt * BenchModels.Spec.Layers * BenchModels.Spec.Hidden * 4;

    [Benchmark]
    public CaptureManifest Capture() => DatasetCapture.Run(_model, _prompts,
        new CapturePlan { Hooks = CapturePlan.ParseHooks("resid_post", "all", _model.Layers) }, _directory,
        new DatasetCaptureOptions { BatchSize = 8, PromptsPerShard = 16 });

    /// <summary>The same number of bytes written with a plain FileStream (the disk write speed the capture is compared with).</summary>
    [Benchmark]
    public void PlainWrite()
    {
        Directory.CreateDirectory(_directory);
        using var stream = new FileStream(Path.Combine(_directory, "plain.bin"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        for (long written = 0; written < CaptureBytes; written += _block.Length) stream.Write(_block);
        stream.Flush(); // like the capture writer: through the page cache, no fsync
    }
}
