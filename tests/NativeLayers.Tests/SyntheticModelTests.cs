using NativeLayers.Loading;
using NativeLayers.ModelGen;
using NativeLayers.Runtime;
using NativeLayers.Tests.Reference;

namespace NativeLayers.Tests;

/// <summary>
/// Random-weight GPT-2 and GPT-NeoX folders written by the nl-modelgen generator, run by the runtime and by an
/// independent float64 reference (<see cref="ReferenceDecoder"/>): every residual slot and all logits must agree to
/// 1e-4 + 1e-4·|reference|. Covers what the HF goldens do not: SoLU-LN and sequential (non-parallel) NeoX blocks.
/// </summary>
public class SyntheticModelTests
{
    public static TheoryData<string, string?, bool, DType, string> Cases()
    {
        var data = new TheoryData<string, string?, bool, DType, string>();
        foreach (var device in TestDevices.All)
        {
            data.Add("gpt2-tiny", null, false, DType.F32, device);
            data.Add("gpt2-tiny", null, false, DType.BF16, device);
            data.Add("gpt2-tiny", "solu_ln", false, DType.F32, device);
            data.Add("gpt2-tiny", "gelu", false, DType.F32, device);
            data.Add("neox-tiny", null, false, DType.F32, device);
            data.Add("neox-tiny", null, false, DType.BF16, device);
            data.Add("neox-tiny", null, true, DType.F32, device);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesFloat64Reference(string preset, string? activation, bool sequential, DType dtype, string device)
    {
        var spec = ModelSpec.Preset(preset) with { Activation = activation, ParallelResidual = !sequential };
        using var folder = new TempFolder();
        ModelGenerator.Generate(folder.Path, spec, dtype, seed: 7);
        var reference = new ReferenceDecoder(folder.Path);
        using var model = TestDevices.Load(folder.Path, device);
        string what = $"{spec.Id} {dtype} on {device}";

        // A batch of two sequences of different lengths, all logits.
        var random = new Random(3);
        int[][] batch = [RandomIds(random, 7, spec.Vocab), RandomIds(random, 11, spec.Vocab)];
        var result = model.Forward(batch, LogitsMode.All);
        int row = 0;
        foreach (var ids in batch)
        {
            var (slots, logits) = reference.Forward(ids);
            for (int slot = 0; slot <= spec.Layers; slot++)
                SharedData.AssertClose(ToFloat(slots[slot]), result.Residual.Slot(slot).Slice(row * spec.Hidden, ids.Length * spec.Hidden),
                    $"{what}: slot {slot} of the {ids.Length}-token sequence");
            SharedData.AssertClose(ToFloat(logits), result.Logits!.AsSpan(row * spec.Vocab, ids.Length * spec.Vocab),
                $"{what}: logits of the {ids.Length}-token sequence");
            row += ids.Length;
        }

        // The same 11 tokens as prefill of 10 then one cached decode step (positions continue from the cache).
        var longest = batch[1];
        var (expectedSlots, expectedLogits) = reference.Forward(longest);
        var sequence = model.NewSequence();
        model.Forward([sequence], [longest[..^1]], LogitsMode.None);
        var step = model.Forward([sequence], [longest[^1..]], LogitsMode.LastPerSequence);
        for (int slot = 0; slot <= spec.Layers; slot++)
            SharedData.AssertClose(ToFloat(expectedSlots[slot].AsSpan((longest.Length - 1) * spec.Hidden)), step.Residual.Slot(slot),
                $"{what}: slot {slot} of the decode step");
        SharedData.AssertClose(ToFloat(expectedLogits.AsSpan((longest.Length - 1) * spec.Vocab)), step.LastLogits(0), $"{what}: decode-step logits");
    }

    [Theory]
    [InlineData("qwen3-tiny")]
    [InlineData("gemma2-tiny")]
    [InlineData("mixtral-tiny")]
    [InlineData("mamba-tiny")]
    public void GeneratedFoldersOfTheNewFamiliesLoadStrictlyRunAlikeOnBothBackendsAndDecodeLikeTheyPrefill(string preset)
    {
        var spec = ModelSpec.Preset(preset);
        using var folder = new TempFolder();
        ModelGenerator.Generate(folder.Path, spec, DType.BF16, seed: 3);
        using var cpu = Transformer.Load(folder.Path); // strict: every generated tensor must be bound
        using var gpu = TestDevices.Load(folder.Path, TestDevices.IlgpuCpu);
        Assert.Equal(spec.ModelType, cpu.Config.ModelType);
        Assert.Equal(spec.TiedHead, cpu.Config.TieWordEmbeddings);
        int[][] batch = [RandomIds(new Random(1), 12, spec.Vocab), RandomIds(new Random(2), 4, spec.Vocab)];
        var expected = cpu.Forward(batch);
        var actual = gpu.Forward(batch);
        for (int slot = 0; slot <= spec.Layers; slot++)
            SharedData.AssertClose(expected.Residual.Slot(slot), actual.Residual.Slot(slot), $"{preset} slot {slot}");
        SharedData.AssertClose(expected.Logits, actual.Logits, $"{preset} logits");

        // Prefill 9 tokens, then three one-token steps through the cache (KV or recurrent state): the same logits.
        var sequence = cpu.NewSequence();
        cpu.Forward([sequence], [batch[0][..9]], LogitsMode.None);
        for (int t = 9; t < 12; t++)
        {
            var step = cpu.Forward([sequence], [batch[0][t..(t + 1)]], LogitsMode.LastPerSequence);
            SharedData.AssertClose(expected.Logits.AsSpan(t * spec.Vocab, spec.Vocab), step.LastLogits(0), $"{preset} decode step at {t}");
        }
    }

    [Fact]
    public void Gpt2FolderHasTheHuggingFaceNamesAndConv1DLayouts()
    {
        var spec = ModelSpec.Preset("gpt2-tiny") with { Activation = "solu_ln" };
        using var folder = new TempFolder();
        ModelGenerator.Generate(folder.Path, spec, DType.F32);
        using var file = SafetensorsFile.Open(Path.Combine(folder.Path, "model.safetensors"));
        var shapes = file.Tensors.ToDictionary(t => t.Name, t => string.Join(",", t.Shape));
        int d = spec.Hidden, inter = 4 * d;
        Assert.Equal($"{spec.Vocab},{d}", shapes["transformer.wte.weight"]);
        Assert.Equal($"{spec.MaxPositions},{d}", shapes["transformer.wpe.weight"]);
        Assert.Equal($"{d},{3 * d}", shapes["transformer.h.0.attn.c_attn.weight"]);
        Assert.Equal($"{3 * d}", shapes["transformer.h.0.attn.c_attn.bias"]);
        Assert.Equal($"{d},{inter}", shapes["transformer.h.1.mlp.c_fc.weight"]);
        Assert.Equal($"{inter},{d}", shapes["transformer.h.1.mlp.c_proj.weight"]);
        Assert.Equal($"{inter}", shapes["transformer.h.1.mlp.ln.weight"]);
        Assert.Equal($"{inter}", shapes["transformer.h.1.mlp.ln.bias"]);
        Assert.Equal($"{d}", shapes["transformer.ln_f.bias"]);
        Assert.DoesNotContain("lm_head.weight", shapes.Keys); // tied to wte, dropped as save_pretrained does
        Assert.Equal(2 + spec.Layers * 14 + 2, shapes.Count);
        Assert.Equal(spec.ParameterCount, file.Tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)));

        var config = ConfigReader.Read(Path.Combine(folder.Path, "config.json"));
        Assert.Equal((d, inter, true, Activation.SoluLn), (config.HiddenSize, config.IntermediateSize, config.TieWordEmbeddings, config.Activation));
    }

    [Fact]
    public void NeoxFolderHasTheHuggingFaceNamesAndPythiaConfig()
    {
        var spec = ModelSpec.Preset("neox-tiny") with { ParallelResidual = false };
        using var folder = new TempFolder();
        ModelGenerator.Generate(folder.Path, spec, DType.BF16);
        using var file = SafetensorsFile.Open(Path.Combine(folder.Path, "model.safetensors"));
        var shapes = file.Tensors.ToDictionary(t => t.Name, t => string.Join(",", t.Shape));
        int d = spec.Hidden;
        Assert.Equal($"{3 * d},{d}", shapes["gpt_neox.layers.0.attention.query_key_value.weight"]);
        Assert.Equal($"{3 * d}", shapes["gpt_neox.layers.0.attention.query_key_value.bias"]);
        Assert.Equal($"{spec.Intermediate},{d}", shapes["gpt_neox.layers.1.mlp.dense_h_to_4h.weight"]);
        Assert.Equal($"{spec.Vocab},{d}", shapes["embed_out.weight"]);
        Assert.Equal($"{d}", shapes["gpt_neox.final_layer_norm.bias"]);
        Assert.All(file.Tensors, t => Assert.Equal(DType.BF16, t.DType));
        Assert.Equal(1 + spec.Layers * 12 + 2 + 1, shapes.Count);

        var config = ConfigReader.Read(Path.Combine(folder.Path, "config.json"));
        Assert.Equal((false, false, 4, Activation.Gelu), (config.ParallelResidual, config.TieWordEmbeddings, config.RotaryDim, config.Activation));
    }

    [Fact]
    public void PresetsHaveThePublishedShapes()
    {
        Assert.Equal(124_439_808, ModelSpec.Preset("gpt2-small").ParameterCount); // GPT-2 124M, head tied
        Assert.Equal(162_322_944, ModelSpec.Preset("pythia-160m").ParameterCount); // Pythia-160M, embed_out untied
        Assert.Equal(16, ModelSpec.Preset("pythia-160m").RotaryDim);
        Assert.Equal(2_614_341_888, ModelSpec.Preset("gemma2-2b").ParameterCount); // google/gemma-2-2b
        Assert.Equal(129_135_360, ModelSpec.Preset("mamba-130m").ParameterCount); // state-spaces/mamba-130m-hf
        // A tied head is read once per decode step: wte is not counted again on top of the head.
        var gpt2 = ModelSpec.Preset("gpt2-small");
        Assert.Equal((12L * 4 * 768 * 768 + 12L * 2 * 768 * 3072 + 50257L * 768) * 2, gpt2.DecodeWeightBytes(DType.BF16));
    }

    [Fact]
    public void ReferenceErfIsAccurate()
    {
        foreach (var (x, erf) in new[] { (0.0, 0.0), (0.5, 0.5204998778130465), (1.0, 0.8427007929497149), (-2.0, -0.9953222650189527),
                     (2.5, 0.9995930479825550), (3.0, 0.9999779095030014), (4.0, 0.9999999845827421) })
            Assert.True(Math.Abs(ReferenceDecoder.Erf(x) - erf) < 1e-14, $"erf({x}) = {ReferenceDecoder.Erf(x)}, expected {erf}");
    }

    private static int[] RandomIds(Random random, int count, int vocab) => Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();

    private static float[] ToFloat(ReadOnlySpan<double> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = (float)values[i];
        return result;
    }
}
