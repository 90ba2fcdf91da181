using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Tests;

/// <summary>BERT (bidirectional, post-LN, token types, pooler) against Hugging Face transformers.</summary>
public class BertGoldenTests
{
    [SkippableTheory]
    [InlineData("bert", "golden.safetensors", TestDevices.Cpu)]
    [InlineData("bert", "golden_single.safetensors", TestDevices.Cpu)]
    [InlineData("bert-pretraining", "golden.safetensors", TestDevices.Cpu)]
    [InlineData("bert-pretraining", "golden_single.safetensors", TestDevices.Cpu)]
    [InlineData("bert", "golden.safetensors", TestDevices.IlgpuCpu)]
    [InlineData("bert", "golden_single.safetensors", TestDevices.IlgpuCpu)]
    [InlineData("bert-pretraining", "golden.safetensors", TestDevices.IlgpuCpu)]
    [InlineData("bert-pretraining", "golden_single.safetensors", TestDevices.IlgpuCpu)]
    public void EncoderMatchesTransformers(string fixture, string goldenFile, string device)
    {
        using var model = TestDevices.Load(SharedData.Fixture(fixture), device);
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture(fixture), goldenFile));
        var shape = SharedData.ShapeOf(golden, "input_ids");
        int batch = (int)shape[0], length = (int)shape[1], d = model.Width;
        var ids = SharedData.Rows(golden.ReadInt64("input_ids"), shape);
        var types = SharedData.Rows(golden.ReadInt64("token_type_ids"), shape);
        var mask = SharedData.Rows(golden.ReadInt64("attention_mask"), shape);
        // Padding is not needed in a ragged batch: run each row's real tokens only and compare those rows.
        int[] lengths = mask.Select(m => m.Sum()).ToArray();
        var result = model.Forward(ids.Select((r, b) => r[..lengths[b]]).ToArray(), LogitsMode.None,
            types.Select((r, b) => r[..lengths[b]]).ToArray());

        for (int slot = 0; slot <= model.Layers; slot++)
        {
            var expected = golden.ReadFloat32(slot == model.Layers ? "last_hidden_state" : $"hidden_states.{slot}");
            for (int b = 0; b < batch; b++)
                SharedData.AssertClose(expected.AsSpan(b * length * d, lengths[b] * d), result.Residual.SequenceSlot(slot, b), $"{fixture} row {b} slot {slot}");
        }
        SharedData.AssertClose(golden.ReadFloat32("pooler_output"), model.PooledOutput(result.Residual), $"{fixture} pooler");
    }

    [SkippableFact]
    public void EncoderGivesNoLogitsAndSaysWhy()
    {
        using var model = Transformer.Load(SharedData.Fixture("bert"));
        var error = Assert.Throws<NativeLayersException>(() => model.Forward([[1, 2, 3]], LogitsMode.All));
        Assert.Contains("no language-model head", error.Message);
        Assert.Throws<NativeLayersException>(() => model.Forward([[1, 2]], LogitsMode.None, [[0, 5]]));
    }
}
