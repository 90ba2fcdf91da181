using BenchmarkDotNet.Attributes;
using NativeLayers.Analysis.Patching;
using NativeLayers.Analysis.Saes;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Bench;

/// <summary>
/// A 128-token prefill of llama-768 F32 with a JumpReLU SAE of d_sae = 16 × d_model encoding every token at block 6
/// (keep-error splice: the stream is unchanged, the features are computed), against the plain prefill. The report
/// compares the added time with the SAE encoder's matmul FLOPs at the in-run FMA peak.
/// </summary>
[Config(typeof(ForwardConfig))]
public class SaeCost
{
    public const int Tokens = 128, Expansion = 16, Layer = 6;
    private Transformer _model = null!;
    private int[] _prompt = null!;
    private ForwardOptions _options = null!;

    [Params(false, true)] public bool WithSae { get; set; }

    public static double EncoderFlops => 2.0 * Tokens * BenchModels.Spec.Hidden * (Expansion * BenchModels.Spec.Hidden);

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchModels.Load(DType.F32);
        _prompt = BenchModels.Tokens(Tokens, seed: 3);
        int d = _model.Width, features = Expansion * d;
        var random = new Random(7);
        float[] Values(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        var header = new SaeHeader("bench", "random", $"blocks.{Layer}.hook_resid_post", SaeArchitecture.JumpRelu, d, features, SubtractDecoderBiasFromInput: true);
        var sae = new SparseAutoencoder(header, Values(d * features, 1 / Math.Sqrt(d)), Values(features, 0.1), Values(features * d, 1 / Math.Sqrt(d)), Values(d, 0.1),
            Values(features, 1).Select(v => 1.5f + Math.Abs(v)).ToArray());
        var plan = new SteeringPlan().Transform(HookId.ResidPost(Layer), new SaeSplice(sae, keepError: true));
        _options = WithSae ? new ForwardOptions { Steering = plan, Logits = LogitsMode.LastPerSequence } : new ForwardOptions { Logits = LogitsMode.LastPerSequence };
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark]
    public float Prefill() => _model.Forward([_prompt], _options).LastLogits(0)[0];
}

/// <summary>
/// Activation patching of resid_pre over a 12-block × 20-position grid on llama-768 F32: the batched, resumed grid
/// against 240 naive full forwards of the corrupted prompt with one patch each.
/// </summary>
[Config(typeof(ForwardConfig))]
public class PatchingCost
{
    public const int Positions = 20;
    private Transformer _model = null!;
    private int[] _clean = null!, _corrupted = null!;

    [GlobalSetup]
    public void Setup()
    {
        _model = BenchModels.Load(DType.F32);
        _clean = BenchModels.Tokens(Positions, seed: 11);
        _corrupted = (int[])_clean.Clone();
        _corrupted[5] = _clean[5] + 1;
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark]
    public double BatchedGrid() => ActivationPatching.Run(_model, _clean, _corrupted, 100, 200, new PatchingOptions { Points = [HookPoint.ResidPre] }).CleanLogitDiff;

    [Benchmark]
    public double NaiveFullForwards()
    {
        var clean = _model.Forward([_clean], new ForwardOptions { Logits = LogitsMode.LastPerSequence });
        int d = _model.Width;
        double sum = 0;
        for (int layer = 0; layer < _model.Layers; layer++)
            for (int p = 0; p < Positions; p++)
            {
                var plan = new SteeringPlan().Set(new HookId(HookPoint.ResidPre, layer), [p], clean.Residual.Slot(layer).Slice(p * d, d).ToArray());
                sum += _model.Forward([_corrupted], new ForwardOptions { Steering = plan, Logits = LogitsMode.LastPerSequence }).LastLogits(0)[100];
            }
        return sum;
    }
}
