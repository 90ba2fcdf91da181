using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

public class CaptureTests
{
    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void CapturePlansReturnTheGoldenHiddenStates(string device)
    {
        using var model = TestDevices.Load(SharedData.Fixture("llama"), device);
        using var golden = SafetensorsFile.Open(Path.Combine(SharedData.Fixture("llama"), "golden.safetensors"));
        var batch = SharedData.Rows(golden.ReadInt64("input_ids"), SharedData.ShapeOf(golden, "input_ids"));
        int d = model.Width, t = batch[0].Length;
        var hooks = CapturePlan.ParseHooks("resid_post,hook_embed", "all", model.Layers);
        var all = Capturer.Run(model, batch, new CapturePlan { Hooks = hooks });
        SharedData.AssertClose(golden.ReadFloat32("hidden_states.0"), all[HookId.Embed].Data, "embed");
        SharedData.AssertClose(golden.ReadFloat32("hidden_states.1"), all[HookId.ResidPost(0)].Data, "resid_post 0");
        SharedData.AssertClose(golden.ReadFloat32("residual_final_prenorm"), all[HookId.ResidPost(1)].Data, "resid_post 1");
        Assert.Equal([t, t], all[HookId.ResidPost(0)].RowsPerSequence);

        var expected = golden.ReadFloat32("hidden_states.1");
        var last = Capturer.Run(model, batch, new CapturePlan { Hooks = [HookId.ResidPost(0)], Tokens = TokenSelection.Last })[HookId.ResidPost(0)];
        Assert.Equal(2, last.Rows);
        SharedData.AssertClose(expected.AsSpan((t - 1) * d, d), last.Row(0), "last token, sequence 0");
        SharedData.AssertClose(expected.AsSpan((2 * t - 1) * d, d), last.Row(1), "last token, sequence 1");

        var mean = Capturer.Run(model, batch, new CapturePlan { Hooks = [HookId.ResidPost(0)], Reduction = Reduction.Mean })[HookId.ResidPost(0)];
        var expectedMean = Enumerable.Range(0, d).Select(i => Enumerable.Range(0, t).Average(r => expected[r * d + i])).Select(x => (float)x).ToArray();
        SharedData.AssertClose(expectedMean, mean.Row(0), "mean over tokens");

        bool[][] mask = [[false, true, false, true, false, false, false], [true, false, false, false, false, false, true]];
        var masked = Capturer.Run(model, batch, new CapturePlan { Hooks = [HookId.ResidPost(0)], Tokens = TokenSelection.Masked(mask) })[HookId.ResidPost(0)];
        Assert.Equal([2, 2], masked.RowsPerSequence);
        SharedData.AssertClose(expected.AsSpan(3 * d, d), masked.Row(1), "masked row");
        SharedData.AssertClose(expected.AsSpan((t + 6) * d, d), masked.Row(3), "masked row");
    }

    [SkippableFact]
    public void DatasetCaptureWritesShardsAManifestAndResumes()
    {
        using var model = Transformer.Load(SharedData.Model("stories260k"));
        var texts = new[] { "Once upon a time", "The little girl", "Tom and his dog", "Lily saw a cat.", "The sun was hot." };
        var prompts = texts.Select(x => model.Tokenizer.Encode(x)).ToArray();
        var plan = new CapturePlan { Hooks = CapturePlan.ParseHooks("resid_post,attn_out", "1,-1", model.Layers) };
        string dir = Directory.CreateTempSubdirectory("nl-capture-").FullName;
        try
        {
            var options = new DatasetCaptureOptions { BatchSize = 2, PromptsPerShard = 2 };
            var manifest = DatasetCapture.Run(model, prompts, plan, dir, options);
            Assert.Equal(3, manifest.ShardFiles.Count);
            Assert.Equal(prompts.Sum(p => p.Length), manifest.TotalTokens);

            // Every row equals a direct forward of its prompt.
            int d = model.Width;
            foreach (var file in manifest.ShardFiles)
            {
                using var shard = SafetensorsFile.Open(Path.Combine(dir, file));
                var promptIndex = shard.ReadInt64("prompt_index");
                var position = shard.ReadInt64("position");
                var attn = shard.ReadFloat32("blocks.4.hook_attn_out");
                var resid = shard.ReadFloat32("blocks.1.hook_resid_post");
                Assert.Equal([promptIndex.Length, d], shard.Get("blocks.1.hook_resid_post").Shape);
                for (int r = 0; r < promptIndex.Length; r++)
                {
                    var direct = model.Forward([prompts[promptIndex[r]]], new ForwardOptions { Capture = [new(HookPoint.AttnOut, 4)] });
                    SharedData.AssertClose(direct.Residual.Row(2, (int)position[r]), resid.AsSpan(r * d, d), $"{file} row {r} resid", 1e-5f, 1e-5f);
                    SharedData.AssertClose(direct.Read(new HookId(HookPoint.AttnOut, 4)).Slice((int)position[r] * d, d), attn.AsSpan(r * d, d), $"{file} row {r} attn", 1e-5f, 1e-5f);
                }
            }
            using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json"))))
            {
                Assert.True(doc.RootElement.GetProperty("complete").GetBoolean());
                Assert.Equal("tokens", doc.RootElement.GetProperty("rows_are").GetString());
                Assert.Equal(4, doc.RootElement.GetProperty("points").GetArrayLength());
            }

            File.Delete(Path.Combine(dir, manifest.ShardFiles[1]));
            var resumed = DatasetCapture.Run(model, prompts, plan, dir, options);
            Assert.Equal(2, resumed.ShardsSkipped);
            Assert.True(File.Exists(Path.Combine(dir, manifest.ShardFiles[1])));

            var other = new CapturePlan { Hooks = [HookId.ResidPost(0)] };
            Assert.Contains("another model, prompt set or plan", Assert.Throws<ModelFileException>(() => DatasetCapture.Run(model, prompts, other, dir, options)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [SkippableFact]
    public void HalfPrecisionShardsAndPerPromptRows()
    {
        using var model = Transformer.Load(SharedData.Model("stories260k"));
        var prompts = new[] { "Once upon a time", "The little girl" }.Select(x => model.Tokenizer.Encode(x)).ToArray();
        string dir = Directory.CreateTempSubdirectory("nl-capture-").FullName;
        try
        {
            var plan = new CapturePlan { Hooks = [HookId.ResidPost(2)], Reduction = Reduction.Mean };
            var manifest = DatasetCapture.Run(model, prompts, plan, dir, new DatasetCaptureOptions { DType = DType.F16 });
            using var shard = SafetensorsFile.Open(Path.Combine(dir, manifest.ShardFiles[0]));
            Assert.Equal(DType.F16, shard.Get("blocks.2.hook_resid_post").DType);
            Assert.Equal([2L, model.Width], shard.Get("blocks.2.hook_resid_post").Shape);
            var exact = Capturer.Run(model, prompts, plan)[HookId.ResidPost(2)].Data;
            SharedData.AssertClose(exact, shard.ReadFloat32("blocks.2.hook_resid_post"), "f16 rows", 2e-3f, 2e-3f);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
