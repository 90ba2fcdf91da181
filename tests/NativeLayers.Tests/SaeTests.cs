using System.IO.Compression;
using System.Text;
using NativeLayers.Analysis.Saes;
using NativeLayers.Cli;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// Sparse autoencoders written by a test helper in each published format (SAELens v6 and v3–v5 configs, Gemma Scope
/// params.npz, sparsify), read back and run against a float64 reference of each architecture and normalisation.
/// </summary>
public class SaeTests
{
    private const int DIn = 24, DSae = 40, K = 6;

    /// <summary>Random SAE parameters, in the stored layouts (W_enc [d_in, d_sae], W_dec [d_sae, d_in]).</summary>
    private sealed class Parameters
    {
        public readonly float[] WEnc, BEnc, WDec, BDec, Threshold, RMag, BMag;

        public Parameters(int seed)
        {
            var random = new Random(seed);
            float[] Values(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
            WEnc = Values(DIn * DSae, 0.5); BEnc = Values(DSae, 0.3); WDec = Values(DSae * DIn, 0.5); BDec = Values(DIn, 0.2);
            Threshold = Values(DSae, 0.6).Select(Math.Abs).ToArray(); RMag = Values(DSae, 0.3); BMag = Values(DSae, 0.3);
        }
    }

    private static float[] Inputs(int rows, int seed, double scale = 2)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * DIn).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    /// <summary>The float64 reference: SAELens's process_sae_in, encode and decode for each architecture.</summary>
    private static (double[] Features, double[] Reconstruction) Reference(Parameters p, float[] x, string architecture, string normalize, bool subtractBDec, bool reluFirst = false)
    {
        int rows = x.Length / DIn;
        var features = new double[rows * DSae];
        var output = new double[rows * DIn];
        for (int r = 0; r < rows; r++)
        {
            var v = x.Skip(r * DIn).Take(DIn).Select(a => (double)a).ToArray();
            double scale = 1, mean = 0, std = 1;
            if (normalize == "constant_norm_rescale")
            {
                scale = Math.Sqrt(DIn) / Math.Sqrt(v.Sum(a => a * a));
                v = v.Select(a => a * scale).ToArray();
            }
            else if (normalize == "layer_norm")
            {
                mean = v.Average();
                v = v.Select(a => a - mean).ToArray();
                std = Math.Sqrt(v.Sum(a => a * a) / (DIn - 1));
                v = v.Select(a => a / (std + 1e-5)).ToArray();
            }
            if (subtractBDec) v = v.Select((a, i) => a - p.BDec[i]).ToArray();
            double Pre(int f, float[] bias, double encoderScale = 1) => bias[f] + Enumerable.Range(0, DIn).Sum(i => v[i] * p.WEnc[i * DSae + f] * encoderScale);
            var pre = Enumerable.Range(0, DSae).Select(f => Pre(f, architecture == "gated" ? p.BMag : p.BEnc)).ToArray();
            var acts = new double[DSae];
            switch (architecture)
            {
                case "standard": for (int f = 0; f < DSae; f++) acts[f] = Math.Max(pre[f], 0); break;
                case "jumprelu": for (int f = 0; f < DSae; f++) acts[f] = pre[f] > p.Threshold[f] ? Math.Max(pre[f], 0) : 0; break;
                case "topk":
                    var candidates = reluFirst ? pre.Select(a => Math.Max(a, 0)).ToArray() : pre;
                    foreach (int f in Enumerable.Range(0, DSae).OrderByDescending(f => candidates[f]).ThenBy(f => f).Take(K)) acts[f] = Math.Max(pre[f], 0);
                    break;
                case "gated":
                    for (int f = 0; f < DSae; f++)
                    {
                        double gate = Pre(f, p.BEnc), magnitude = Pre(f, p.BMag, Math.Exp(p.RMag[f]));
                        acts[f] = gate > 0 ? Math.Max(magnitude, 0) : 0;
                    }
                    break;
            }
            acts.CopyTo(features, r * DSae);
            for (int i = 0; i < DIn; i++)
            {
                double y = p.BDec[i] + Enumerable.Range(0, DSae).Sum(f => acts[f] * p.WDec[f * DIn + i]);
                if (normalize == "constant_norm_rescale") y /= scale;
                if (normalize == "layer_norm") y = y * std + mean;
                output[r * DIn + i] = y;
            }
        }
        return (features, output);
    }

    private static void WriteSafetensors(string path, params (string Name, long[] Shape, float[] Values)[] tensors) =>
        SafetensorsWriter.Write(path, tensors.Select(t => TensorData.FromFloats(t.Name, t.Shape, t.Values)));

    private static string SaeLensFolder(TempFolder temp, Parameters p, string architecture, string normalize, bool applyBDec, bool legacyConfig, string name)
    {
        string dir = Directory.CreateDirectory(temp.File(name)).FullName;
        string hook = "\"blocks.1.hook_resid_post\"";
        string cfg = legacyConfig
            ? $"{{\"d_in\": {DIn}, \"d_sae\": {DSae}, \"hook_name\": {hook}, \"hook_layer\": 1, \"architecture\": \"{(architecture == "topk" ? "standard" : architecture)}\", " +
              $"\"activation_fn_str\": \"{(architecture == "topk" ? "topk" : "relu")}\", \"activation_fn_kwargs\": {{\"k\": {K}}}, " +
              $"\"apply_b_dec_to_input\": {(applyBDec ? "true" : "false")}, \"normalize_activations\": \"{normalize}\", \"dtype\": \"float32\"}}"
            : $"{{\"architecture\": \"{architecture}\", \"d_in\": {DIn}, \"d_sae\": {DSae}, \"k\": {K}, \"apply_b_dec_to_input\": {(applyBDec ? "true" : "false")}, " +
              $"\"normalize_activations\": \"{normalize}\", \"reshape_activations\": \"none\", \"meta\": {{\"hook_name\": {hook}, \"model_name\": \"stories260k\"}}}}";
        File.WriteAllText(Path.Combine(dir, "cfg.json"), cfg);
        var tensors = new List<(string, long[], float[])> { ("W_enc", [DIn, DSae], p.WEnc), ("W_dec", [DSae, DIn], p.WDec), ("b_dec", [DIn], p.BDec) };
        if (architecture == "gated") tensors.AddRange([("b_gate", [DSae], p.BEnc), ("r_mag", [DSae], p.RMag), ("b_mag", [DSae], p.BMag)]);
        else tensors.Add(("b_enc", [DSae], p.BEnc));
        if (architecture == "jumprelu") tensors.Add(("threshold", [DSae], p.Threshold));
        WriteSafetensors(Path.Combine(dir, "sae_weights.safetensors"), [.. tensors]);
        return dir;
    }

    private static void WriteNpz(string path, params (string Name, long[] Shape, float[] Values)[] arrays)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, shape, values) in arrays)
        {
            using var stream = zip.CreateEntry(name + ".npy").Open();
            string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
            string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
            header = header.PadRight((header.Length + 11) / 64 * 64 + 64 - 11) + "\n";
            stream.Write([0x93, .. "NUMPY"u8, 1, 0]);
            stream.Write(BitConverter.GetBytes((ushort)header.Length));
            stream.Write(Encoding.ASCII.GetBytes(header));
            foreach (var v in values) stream.Write(BitConverter.GetBytes(v));
        }
    }

    public static TheoryData<string, string, bool, bool> SaeLensCases()
    {
        var data = new TheoryData<string, string, bool, bool>();
        foreach (var architecture in new[] { "standard", "jumprelu", "topk", "gated" })
            foreach (var (normalize, applyBDec, legacy) in new[] { ("none", true, false), ("constant_norm_rescale", false, false), ("layer_norm", true, true), ("expected_average_only_in", false, true) })
                if (!(legacy && architecture is "jumprelu" or "gated" && normalize == "layer_norm"))
                    data.Add(architecture, normalize, applyBDec, legacy);
        return data;
    }

    [Theory]
    [MemberData(nameof(SaeLensCases))]
    public void SaeLensSaesEncodeAndDecodeAsTheirDefinition(string architecture, string normalize, bool applyBDec, bool legacyConfig)
    {
        using var temp = new TempFolder();
        var p = new Parameters(architecture.Length + normalize.Length);
        var sae = SaeFiles.Load(SaeLensFolder(temp, p, architecture, normalize, applyBDec, legacyConfig, "sae"));
        Assert.Equal(("blocks.1.hook_resid_post", DIn, DSae), (sae.HookName, sae.InputWidth, sae.Features));
        var x = Inputs(5, 1);
        var encoding = sae.Encode(x);
        var (features, reconstruction) = Reference(p, x, architecture, normalize == "expected_average_only_in" ? "none" : normalize, applyBDec);
        string what = $"{architecture}/{normalize}";
        SharedData.AssertClose(features.Select(v => (float)v).ToArray(), encoding.Features, $"{what} features", 1e-5f, 1e-5f);
        SharedData.AssertClose(reconstruction.Select(v => (float)v).ToArray(), sae.Decode(encoding), $"{what} reconstruction", 1e-5f, 1e-5f);
        if (architecture == "topk")
            Assert.All(Enumerable.Range(0, 5), r => Assert.True(encoding.Features.Skip(r * DSae).Take(DSae).Count(v => v != 0) <= K));
    }

    [Fact]
    public void GemmaScopeNpzIsAJumpReluWithoutTheDecoderBiasOnItsInput()
    {
        using var temp = new TempFolder();
        var p = new Parameters(9);
        string path = temp.File("params.npz");
        WriteNpz(path, ("W_enc", [DIn, DSae], p.WEnc), ("W_dec", [DSae, DIn], p.WDec), ("b_enc", [DSae], p.BEnc), ("b_dec", [DIn], p.BDec), ("threshold", [DSae], p.Threshold));
        var sae = SaeFiles.Load(path + "@blocks.2.hook_resid_post");
        Assert.Equal((SaeArchitecture.JumpRelu, "blocks.2.hook_resid_post"), (sae.Architecture, sae.HookName));
        var x = Inputs(4, 2);
        var encoding = sae.Encode(x);
        var (features, reconstruction) = Reference(p, x, "jumprelu", "none", subtractBDec: false);
        SharedData.AssertClose(features.Select(v => (float)v).ToArray(), encoding.Features, "features", 1e-5f, 1e-5f);
        SharedData.AssertClose(reconstruction.Select(v => (float)v).ToArray(), sae.Decode(encoding), "reconstruction", 1e-5f, 1e-5f);
        Assert.Contains("name the hook", Assert.Throws<ModelFileException>(() => SaeFiles.Load(path)).Message);
    }

    [Fact]
    public void SparsifySaesAreTopKOfTheReluWithTheHookFromTheirFolder()
    {
        using var temp = new TempFolder();
        var p = new Parameters(4);
        string dir = Directory.CreateDirectory(temp.File("layers.3")).FullName;
        File.WriteAllText(Path.Combine(dir, "cfg.json"), $"{{\"expansion_factor\": 2, \"normalize_decoder\": true, \"num_latents\": {DSae}, \"k\": {K}, \"multi_topk\": false, \"d_in\": {DIn}}}");
        var encoderRows = new float[DSae * DIn];
        for (int f = 0; f < DSae; f++)
            for (int i = 0; i < DIn; i++) encoderRows[f * DIn + i] = p.WEnc[i * DSae + f];
        WriteSafetensors(Path.Combine(dir, "sae.safetensors"), ("encoder.weight", [DSae, DIn], encoderRows), ("encoder.bias", [DSae], p.BEnc),
            ("W_dec", [DSae, DIn], p.WDec), ("b_dec", [DIn], p.BDec));
        var sae = SaeFiles.Load(dir);
        Assert.Equal(("blocks.3.hook_resid_post", K), (sae.HookName, sae.K));
        var x = Inputs(6, 3);
        var encoding = sae.Encode(x);
        var (features, reconstruction) = Reference(p, x, "topk", "none", subtractBDec: true, reluFirst: true);
        SharedData.AssertClose(features.Select(v => (float)v).ToArray(), encoding.Features, "features", 1e-5f, 1e-5f);
        SharedData.AssertClose(reconstruction.Select(v => (float)v).ToArray(), sae.Decode(encoding), "reconstruction", 1e-5f, 1e-5f);
    }

    [Fact]
    public void BadSaeFilesAreRefusedNamingTheFileAndTheProblem()
    {
        using var temp = new TempFolder();
        var p = new Parameters(1);
        string dir = SaeLensFolder(temp, p, "standard", "none", true, false, "bad");
        string weights = Path.Combine(dir, "sae_weights.safetensors");
        WriteSafetensors(weights, ("W_enc", [DIn, DSae + 1], new float[DIn * (DSae + 1)]), ("b_enc", [DSae], p.BEnc), ("W_dec", [DSae, DIn], p.WDec), ("b_dec", [DIn], p.BDec));
        var shape = Assert.Throws<ModelFileException>(() => SaeFiles.Load(dir));
        Assert.Contains("sae_weights.safetensors", shape.Message);
        Assert.Contains($"'W_enc' has shape [{DIn}, {DSae + 1}], expected [{DIn}, {DSae}]", shape.Message);

        WriteSafetensors(weights, ("W_enc", [DIn, DSae], p.WEnc), ("W_dec", [DSae, DIn], p.WDec), ("b_dec", [DIn], p.BDec));
        Assert.Contains("tensor 'b_enc' is missing", Assert.Throws<ModelFileException>(() => SaeFiles.Load(dir)).Message);

        File.WriteAllText(Path.Combine(dir, "cfg.json"), $"{{\"architecture\": \"standard\", \"d_sae\": {DSae}, \"meta\": {{\"hook_name\": \"blocks.0.hook_resid_post\"}}}}");
        var missing = Assert.Throws<ModelFileException>(() => SaeFiles.Load(dir));
        Assert.Contains("cfg.json", missing.Message);
        Assert.Contains("'d_in'", missing.Message);

        File.WriteAllText(Path.Combine(dir, "cfg.json"), $"{{\"architecture\": \"matryoshka\", \"d_in\": {DIn}, \"d_sae\": {DSae}, \"hook_name\": \"blocks.0.hook_resid_post\"}}");
        Assert.Contains("'matryoshka'", Assert.Throws<ModelFileException>(() => SaeFiles.Load(dir)).Message);

        string npz = temp.File("broken.npz");
        File.WriteAllText(npz, "not a zip");
        Assert.Contains("not a readable .npz", Assert.Throws<ModelFileException>(() => SaeFiles.Load(npz + "@blocks.0.hook_resid_post")).Message);
        Assert.Contains("SAE not found", Assert.Throws<ModelFileException>(() => SaeFiles.Load(temp.File("nowhere"))).Message);
    }

    /// <summary>A ReLU SAE of 2·d features that reconstructs exactly: features [relu(x), relu(−x)], decoder [I; −I].</summary>
    private static string IdentitySae(TempFolder temp, int width, string hook, float bias = 0)
    {
        string dir = Directory.CreateDirectory(temp.File("identity")).FullName;
        File.WriteAllText(Path.Combine(dir, "cfg.json"),
            $"{{\"architecture\": \"standard\", \"d_in\": {width}, \"d_sae\": {2 * width}, \"apply_b_dec_to_input\": true, \"normalize_activations\": \"none\", \"meta\": {{\"hook_name\": \"{hook}\"}}}}");
        var wEnc = new float[width * 2 * width];
        var wDec = new float[2 * width * width];
        for (int i = 0; i < width; i++)
        {
            wEnc[i * 2 * width + i] = 1;
            wEnc[i * 2 * width + width + i] = -1;
            wDec[i * width + i] = 1;
            wDec[(width + i) * width + i] = -1;
        }
        WriteSafetensors(Path.Combine(dir, "sae_weights.safetensors"), ("W_enc", [width, 2 * width], wEnc), ("b_enc", [2 * width], new float[2 * width]),
            ("W_dec", [2 * width, width], wDec), ("b_dec", [width], Enumerable.Repeat(bias, width).ToArray()));
        return dir;
    }

    private static readonly string[] Stories = ["Once upon a time, there was a little girl named Lily. She liked to play in the park.", "Tom had a red ball. He threw it to his dog."];

    private static int[][] Prompts(Transformer model) => [.. Stories.Select(text => model.Tokenizer.Encode(text))];

    [Fact]
    public void AnExactSaeRecoversTheWholeLossAndZeroAblationCostsSome()
    {
        using var temp = new TempFolder();
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var sae = SaeFiles.Load(IdentitySae(temp, model.Width, "blocks.2.hook_resid_post", bias: 0.25f));
        var prompts = Prompts(model);
        var r = SaeEvaluation.Run(model, sae, prompts);
        Assert.Equal(0, r.Fvu, 9);
        Assert.Equal(1, r.Cosine, 6);
        Assert.Equal(r.CeLossClean, r.CeLossSpliced, 5);
        Assert.True(r.CeLossZeroAblated > r.CeLossClean + 0.1, $"zero-ablated {r.CeLossZeroAblated}, clean {r.CeLossClean}");
        Assert.Equal(1, r.CeLossRecovered, 4);
        Assert.Equal(prompts.Sum(p => p.Length), r.Tokens);
        Assert.True(r.L0 > 0 && r.L0 <= model.Width);

        // The same at a sub-layer point, through the set operation inside the block.
        var mlp = SaeFiles.Load(IdentitySae(new TempFolder(), model.Width, "blocks.1.hook_mlp_out"));
        var m = SaeEvaluation.Run(model, mlp, prompts);
        Assert.Equal(m.CeLossClean, m.CeLossSpliced, 5);
        Assert.Contains("is 64 wide", Assert.Throws<NativeLayersException>(() => SaeEvaluation.Run(model, SaeFiles.Load(IdentitySae(new TempFolder(), 8, "blocks.1.hook_resid_post")), prompts)).Message);
    }

    [Fact]
    public void FeatureSteeringIsTheDecoderRowAsASteeringVector()
    {
        using var temp = new TempFolder();
        var p = new Parameters(5);
        var sae = SaeFiles.Load(SaeLensFolder(temp, p, "standard", "none", true, false, "sae"));
        Assert.Equal(p.WDec.AsSpan(7 * DIn, DIn).ToArray(), sae.Direction(7).ToArray());
        Assert.Contains("out of range", Assert.Throws<NativeLayersException>(() => sae.Direction(DSae)).Message);
    }

    [Fact]
    public void SaeEncodeWritesFeaturesInputsAndReconstructionsOfTheHookPoint()
    {
        using var temp = new TempFolder();
        using var model = Transformer.Load(ReferenceData.Stories260k);
        string dir = IdentitySae(temp, model.Width, "blocks.2.hook_resid_post");
        string outPath = temp.File("acts.safetensors");
        var error = new StringWriter();
        int[] ids = Prompts(model)[0];
        int code = CliApp.Run(["sae", "encode", "--sae", dir, "--ids", string.Join(",", ids), "--dense", "--out", outPath], new StringWriter(), error);
        Assert.True(code == 0, error.ToString());
        using var file = SafetensorsFile.Open(outPath);
        var slot = model.Forward([ids]).Residual.Slot(3).ToArray();
        SharedData.AssertClose(slot, file.ReadFloat32("sae_in"), "sae_in = slot 3", 1e-6f, 1e-6f);
        SharedData.AssertClose(slot, file.ReadFloat32("reconstruction"), "exact reconstruction", 1e-5f, 1e-5f);
        Assert.Equal([ids.Length, 2L * model.Width], file.Tensors.First(t => t.Name == "feature_acts").Shape);

        string evaluation = temp.File("eval.json");
        string prompts = temp.File("prompts.txt");
        File.WriteAllLines(prompts, ["Once upon a time there was a cat.", "Lily liked to play in the park with her dog."]);
        code = CliApp.Run(["sae", "evaluate", "--sae", dir, "--prompts", prompts, "--out", evaluation], new StringWriter(), error);
        Assert.True(code == 0, error.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(evaluation));
        foreach (var key in new[] { "l0", "fvu", "ce_loss_clean", "ce_loss_spliced", "ce_loss_zero_ablated", "ce_loss_recovered", "dead_features" })
            Assert.True(json.RootElement.TryGetProperty(key, out _), key);
        Assert.Equal(1, json.RootElement.GetProperty("ce_loss_recovered").GetDouble(), 4);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void SplicingInTheForwardPassMatchesTheSpliceComputedOutside(string device)
    {
        using var temp = new TempFolder();
        using var model = TestDevices.Load(ReferenceData.Stories260k, device);
        int width = model.Width;
        var random = new Random(2);
        float[] Values(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        string dir = Directory.CreateDirectory(temp.File("sae")).FullName;
        int features = 3 * width;
        File.WriteAllText(Path.Combine(dir, "cfg.json"), $"{{\"architecture\": \"standard\", \"d_in\": {width}, \"d_sae\": {features}, \"meta\": {{\"hook_name\": \"blocks.1.hook_mlp_out\"}}}}");
        WriteSafetensors(Path.Combine(dir, "sae_weights.safetensors"), ("W_enc", [width, features], Values(width * features, 0.3)), ("b_enc", [features], Values(features, 0.1)),
            ("W_dec", [features, width], Values(features * width, 0.3)), ("b_dec", [width], Values(width, 0.1)));
        var sae = SaeFiles.Load(dir);
        var hook = new HookId(HookPoint.MlpOut, 1);
        int[] ids = Prompts(model)[0];
        var clean = model.Forward([ids], new ForwardOptions { Capture = [hook] });
        var x = clean.Read(hook).ToArray();

        // With the error term and no edits the forward is unchanged.
        var unchanged = model.Forward([ids], new ForwardOptions { Steering = new SteeringPlan().Transform(hook, new SaeSplice(sae, keepError: true)) });
        SharedData.AssertClose(clean.Logits, unchanged.Logits, "keep-error splice", 1e-5f, 1e-5f);

        // Without it, the point becomes the reconstruction: the same as setting those rows from outside.
        var recorded = new List<float>();
        var spliced = model.Forward([ids], new ForwardOptions
        {
            Steering = new SteeringPlan().Transform(hook, new SaeSplice(sae) { Encoded = (f, _) => recorded.AddRange(f) }),
        });
        var encoding = sae.Encode(x);
        var set = model.Forward([ids], new ForwardOptions { Steering = new SteeringPlan().Set(hook, Enumerable.Range(0, ids.Length).ToArray(), sae.Decode(encoding)) });
        SharedData.AssertClose(set.Logits, spliced.Logits, "splice = set of the reconstruction", 1e-5f, 1e-5f);
        SharedData.AssertClose(encoding.Features, recorded.ToArray(), "features seen by the splice", 1e-6f, 1e-6f);

        // Clamping feature f to v with the error term adds (v − a_f) · W_dec[f] to each row.
        int f = Enumerable.Range(0, features).First(i => encoding.Features[i] > 0);
        var clamped = model.Forward([ids], new ForwardOptions { Steering = new SteeringPlan().Transform(hook, new SaeSplice(sae, true, [new FeatureClamp(f, 5f)])) });
        var expected = (float[])x.Clone();
        for (int t = 0; t < ids.Length; t++)
            for (int i = 0; i < width; i++) expected[t * width + i] += (5f - encoding.Features[t * features + f]) * sae.Decoder[f * width + i];
        var byHand = model.Forward([ids], new ForwardOptions { Steering = new SteeringPlan().Set(hook, Enumerable.Range(0, ids.Length).ToArray(), expected) });
        SharedData.AssertClose(byHand.Logits, clamped.Logits, "clamp", 1e-5f, 1e-5f);
    }

    [Fact]
    public void HiddenWithAKeepErrorSpliceWritesTheUnchangedStream()
    {
        using var temp = new TempFolder();
        using var model = Transformer.Load(ReferenceData.Stories260k);
        string dir = IdentitySae(temp, model.Width, "blocks.2.hook_resid_post");
        string plain = temp.File("plain.safetensors"), spliced = temp.File("spliced.safetensors"), clamped = temp.File("clamped.safetensors");
        var error = new StringWriter();
        Assert.Equal(0, CliApp.Run(["hidden", "--prompt", Stories[1], "--out", plain], new StringWriter(), error));
        Assert.Equal(0, CliApp.Run(["hidden", "--prompt", Stories[1], "--sae", dir, "--sae-keep-error", "--out", spliced], new StringWriter(), error));
        Assert.Equal(0, CliApp.Run(["hidden", "--prompt", Stories[1], "--sae", dir, "--sae-clamp", "3=0", "--sae-clamp", "67=0", "--out", clamped], new StringWriter(), error));
        using var a = SafetensorsFile.Open(plain);
        using var b = SafetensorsFile.Open(spliced);
        using var c = SafetensorsFile.Open(clamped);
        SharedData.AssertClose(a.ReadFloat32("logits"), b.ReadFloat32("logits"), "logits", 1e-5f, 1e-5f);
        // Ablating both halves of dimension 3 of the exact SAE zeroes that dimension of slot 3.
        var slot = c.ReadFloat32("resid.3");
        Assert.All(Enumerable.Range(0, slot.Length / model.Width), t => Assert.Equal(0f, slot[t * model.Width + 3], 5));
        Assert.Equal(1, CliApp.Run(["hidden", "--prompt", "Hi", "--sae-clamp", "3=0", "--out", plain], new StringWriter(), error));
        Assert.Contains("need --sae", error.ToString());
    }

    [Fact]
    public void TopContextsAreEachFeaturesLargestActivationsOverTheData()
    {
        using var temp = new TempFolder();
        using var model = Transformer.Load(ReferenceData.Stories260k);
        string dir = IdentitySae(temp, model.Width, "blocks.3.hook_resid_post");
        var sae = SaeFiles.Load(dir);
        var prompts = Prompts(model);
        var result = SaeTopContexts.Run(model, sae, prompts, top: 3);
        var all = prompts.Select((ids, p) => (p, acts: sae.Encode(SaeEvaluation.HookRows(model, SaeEvaluation.HookOf(model, sae), ids).Rows).Features)).ToList();
        foreach (int f in new[] { 0, 5, model.Width + 7 })
        {
            var expected = all.SelectMany(a => Enumerable.Range(0, prompts[a.p].Length).Select(t => new FeatureExample(a.p, t, a.acts[t * sae.Features + f])))
                .Where(e => e.Value > 0).OrderByDescending(e => e.Value).ThenBy(e => e.Prompt).ThenBy(e => e.Position).ToList();
            Assert.Equal(expected.Take(3), result.Features[f].Examples);
            Assert.Equal(expected.Count, result.Features[f].Firings);
        }
        Assert.Equal(prompts.Sum(p => p.Length), result.Tokens);

        string json = temp.File("top.json"), promptFile = temp.File("prompts.txt");
        File.WriteAllLines(promptFile, Stories);
        var error = new StringWriter();
        Assert.True(CliApp.Run(["sae", "top-contexts", "--sae", dir, "--prompts", promptFile, "--top", "2", "--out", json], new StringWriter(), error) == 0, error.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var first = doc.RootElement.GetProperty("features")[5];
        Assert.Equal(5, first.GetProperty("feature").GetInt32());
        Assert.True(first.GetProperty("examples").GetArrayLength() <= 2);
    }
}
