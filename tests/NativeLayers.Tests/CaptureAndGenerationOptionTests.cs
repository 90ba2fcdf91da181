using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>Options of dataset capture and generation that no other test exercised: BF16 shards (rounded to nearest
/// even, checked against a rounding computed in float64 from the two neighbouring bf16 values), and the refusals of
/// bad batch sizes, dtypes, token masks, empty prompts and mismatched steering plans.</summary>
public sealed class CaptureAndGenerationOptionTests
{
    /// <summary>The bf16 value nearest to x (ties to the even one), found by comparing distances in float64.</summary>
    private static ushort NearestBf16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        ushort down = (ushort)(bits >> 16), up = (ushort)(down + 1);
        double Value(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);
        double toDown = Math.Abs(x - Value(down)), toUp = Math.Abs(Value(up) - x);
        return toDown < toUp ? down : toUp < toDown ? up : (down & 1) == 0 ? down : up;
    }

    [Fact]
    public void Bf16ShardsHoldEachCapturedValueRoundedToTheNearestBf16()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var prompts = new[] { "Once upon a time", "The little girl" }.Select(x => model.Tokenizer.Encode(x)).ToArray();
        var plan = new CapturePlan { Hooks = [HookId.ResidPost(1)] };
        using var folder = new TempFolder();
        var manifest = DatasetCapture.Run(model, prompts, plan, folder.Path, new DatasetCaptureOptions { DType = DType.BF16 });
        var exact = Capturer.Run(model, prompts, plan)[HookId.ResidPost(1)].Data;
        using var shard = SafetensorsFile.Open(Path.Combine(folder.Path, manifest.ShardFiles[0]));
        var info = shard.Get("blocks.1.hook_resid_post");
        Assert.Equal(DType.BF16, info.DType);
        var stored = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(shard.Bytes(info)).ToArray();
        Assert.Equal(exact.Select(NearestBf16).ToArray(), stored);
    }

    [Fact]
    public void DatasetCaptureRefusesBadOptionsBeforeWritingAnything()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        int[][] prompts = [[1, 403, 407]];
        var plan = new CapturePlan { Hooks = [HookId.ResidPost(0)] };
        using var folder = new TempFolder();
        string dir = Path.Combine(folder.Path, "capture");
        string Refused(CapturePlan p, DatasetCaptureOptions o, int[][]? inputs = null) =>
            Assert.Throws<NativeLayersException>(() => DatasetCapture.Run(model, inputs ?? prompts, p, dir, o)).Message;
        Assert.Equal("batch size and prompts per shard must be at least 1.", Refused(plan, new DatasetCaptureOptions { BatchSize = 0 }));
        Assert.Equal("batch size and prompts per shard must be at least 1.", Refused(plan, new DatasetCaptureOptions { PromptsPerShard = 0 }));
        Assert.Equal("captures are stored as F32, F16 or BF16, not I32.", Refused(plan, new DatasetCaptureOptions { DType = DType.I32 }));
        Assert.StartsWith("dataset capture selects tokens by rule",
            Refused(new CapturePlan { Hooks = plan.Hooks, Tokens = TokenSelection.At([[0]]) }, new DatasetCaptureOptions()));
        Assert.Equal("prompt 1 has no tokens.", Refused(plan, new DatasetCaptureOptions(), [[1], []]));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void GenerationRefusesEmptyPromptsAndMismatchedPlansAndZeroTokensReturnsThePrompts()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var generator = new Generator(model);
        Assert.Equal("prompt 1 has no tokens; give at least one (for example the BOS token).",
            Assert.Throws<NativeLayersException>(() => generator.Generate([[1], []], new GenerationOptions())).Message);
        Assert.Equal("1 steering plans for 2 prompts; give one (or null) per prompt.",
            Assert.Throws<NativeLayersException>(() => generator.Generate([[1], [1, 403]], new GenerationOptions { PromptSteering = [null] })).Message);
        var none = generator.Generate([[1, 403], [1]], new GenerationOptions { MaxNewTokens = 0 });
        Assert.Equal([[1, 403], [1]], none.Select(o => o.PromptIds));
        Assert.All(none, o => Assert.Equal((0, StopReason.MaxTokens), (o.NewIds.Length, o.StopReason)));
    }
}
