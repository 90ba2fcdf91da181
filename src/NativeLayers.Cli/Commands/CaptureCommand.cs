using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Loading;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl capture`: stream a prompt file through the model into safetensors shards of hook-point activations.</summary>
public static class CaptureCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var input = new Option<string>("--input", "-i") { Description = "Prompts: JSONL ({\"text\": ...} per line) or plain text, one prompt a line.", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var points = new Option<string>("--points") { Description = "Hook points: resid_post, resid_pre, attn_out, mlp_out, resid_mid, embed, final_normalized, or full names (blocks.3.hook_resid_post).", DefaultValueFactory = _ => "resid_post" };
        var layers = new Option<string>("--layers") { Description = "Blocks: all, or a list of layers and ranges (0-3,7,-1).", DefaultValueFactory = _ => "all" };
        var positions = new Option<string>("--positions") { Description = "all, last, first, prompt or from:P (tokens of each prompt to keep).", DefaultValueFactory = _ => "all" };
        var reduce = new Option<string>("--reduce") { Description = "none (one row per token), mean or last (one row per prompt).", DefaultValueFactory = _ => "none" };
        var output = new Option<string>("--out", "-o") { Description = "Output folder (manifest.json + shard-NNNNN.safetensors); rerun to resume.", Required = true };
        var batch = new Option<int>("--batch", "-b") { Description = "Prompts per forward call.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var shardSize = new Option<int>("--shard-size") { Description = "Prompts per shard file.", DefaultValueFactory = _ => 256 }.AtLeast(1);
        var dtype = new Option<string>("--dtype") { Description = "f32, f16 or bf16 on disk.", DefaultValueFactory = _ => "f32" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Truncate each prompt to this many tokens (0 = no limit).", DefaultValueFactory = _ => 0 }.AtLeast(0);

        var command = new Command("capture", "Capture hook-point activations of a prompt set to safetensors shards (resumable, bounded memory).")
            { model, threads, device, input, encodingErrors, points, layers, positions, reduce, output, batch, shardSize, dtype, maxTokens };
        command.SetAction(parse =>
        {
            string folder = CommonOptions.OutputFolder(parse.GetValue(output)!, "--out");
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            CommonOptions.Layers(parse.GetValue(layers)!, m.Layers, "--layers"); // checked first so that its error names the option
            var plan = new CapturePlan
            {
                Hooks = CapturePlan.ParseHooks(parse.GetValue(points)!, parse.GetValue(layers)!, m.Layers),
                Tokens = CommonOptions.ForOption("--positions", () => TokenSelection.Parse(parse.GetValue(positions)!)),
                Reduction = parse.GetValue(reduce) switch
                {
                    "none" => Reduction.None,
                    "mean" => Reduction.Mean,
                    "last" => Reduction.Last,
                    var r => throw new NativeLayersException($"--reduce must be none, mean or last, got '{r}'."),
                },
            };
            var options = new DatasetCaptureOptions
            {
                BatchSize = parse.GetValue(batch),
                PromptsPerShard = parse.GetValue(shardSize),
                DType = parse.GetValue(dtype) switch
                {
                    "f32" => DType.F32,
                    "f16" => DType.F16,
                    "bf16" => DType.BF16,
                    var t => throw new NativeLayersException($"--dtype must be f32, f16 or bf16, got '{t}'."),
                },
            };
            int limit = parse.GetValue(maxTokens);
            var texts = PromptFile.Read(parse.GetValue(input)!, parse.GetValue(encodingErrors));
            if (!m.HasTokenizer)
                throw new NativeLayersException($"{m.Folder.Directory} has no tokenizer, so text prompts cannot be encoded.");
            var prompts = texts.Select(t => m.Tokenizer.Encode(t)).Select(ids => limit > 0 && ids.Length > limit ? ids[..limit] : ids).ToArray();

            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var clock = Stopwatch.StartNew();
            CaptureManifest? manifest = null;
            CaptureProgress? last = null;
            using var interrupt = new InterruptSignals();
            try
            {
                console.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"capturing {plan.Hooks.Count} points", maxValue: prompts.Length);
                        manifest = DatasetCapture.Run(m, prompts, plan, folder, options,
                            new SynchronousProgress<CaptureProgress>(p => { last = p; task.Value = p.PromptsDone; }), interrupt.Token);
                        task.Value = prompts.Length;
                    });
            }
            catch (OperationCanceledException) when (interrupt.Token.IsCancellationRequested)
            {
                parse.InvocationConfiguration.Error.WriteLine(
                    $"interrupted: {last?.ShardsDone ?? 0} of {last?.ShardsTotal ?? 0} shards are finished and recorded in {Path.Combine(folder, DatasetCapture.ManifestName)}; " +
                    "rerun the same command to resume.");
                return InterruptSignals.ExitCode;
            }
            clock.Stop();
            long bytes = manifest!.ShardFiles.Sum(f => new FileInfo(Path.Combine(manifest.Directory, f)).Length);
            console.MarkupLine($"{prompts.Length} prompts, {manifest.TotalTokens:N0} tokens, {manifest.TotalRows:N0} rows × {plan.Hooks.Count} points " +
                $"→ {manifest.ShardFiles.Count} shard(s), {InspectCommand.Size(bytes)} in {Markup.Escape(manifest.Directory)}" +
                (manifest.ShardsSkipped > 0 ? $" ({manifest.ShardsSkipped} shard(s) already done, skipped)" : ""));
            console.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds:F2} s, {manifest.TotalTokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):N0} tokens/s[/]");
            return 0;
        });
        return command;
    }
}
