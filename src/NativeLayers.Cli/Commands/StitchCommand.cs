using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Stitching;
using NativeLayers.Loading;
using NativeLayers.Runtime.Capture;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl stitch`: affine stitching of A's slot i into B's slot j and the resulting next-token loss penalty (metrics.md §14).</summary>
public static class StitchCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var modelB = new Option<string?>("--model-b") { Description = "Model B, a folder or Hugging Face Hub ORG/NAME[@REVISION] (must share A's tokenizer); omit to stitch A into itself." };
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var text = new Option<string>("--text") { Description = "Texts: JSONL ({\"text\": ...} per line) or plain text, one text a line; every k-th is held out.", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var slotsA = new Option<string>("--slots-a") { Description = "A's residual slots i (0 = embeddings, l + 1 = after block l, … L): all, or a list such as 0-3,-1.", DefaultValueFactory = _ => "all" };
        var slotsB = new Option<string>("--slots-b") { Description = "B's residual slots j (same syntax).", DefaultValueFactory = _ => "all" };
        var ridge = new Option<double?>("--ridge") { Description = "Ridge λ (default: 1e-6·tr(X_cᵀX_c)/d_A; 0 = plain least squares)." }.AtLeast(0.0);
        var holdout = new Option<double>("--holdout") { Description = "Fraction of texts held out for the losses and held-out fit metrics.", DefaultValueFactory = _ => 0.25 }.Requiring(h => h > 0 && h < 1, "in (0, 1)");
        var maxTokens = new Option<int>("--max-tokens") { Description = "Truncate each text to this many tokens (0 = no limit).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var output = new Option<string>("--out", "-o") { Description = "JSON file with every cell (a .csv beside it lists them).", Required = true };
        var plot = new Option<string?>("--plot") { Description = "Heatmap of the stitching penalty (.png or .svg)." };

        var command = new Command("stitch", "Fit affine maps from A's slot i to B's slot j, run B from slot j on the mapped activations, and report the loss penalty.")
            { model, modelB, threads, device, text, encodingErrors, slotsA, slotsB, ridge, holdout, maxTokens, output, plot };
        command.SetAction(parse =>
        {
            int limit = parse.GetValue(maxTokens);
            string outPath = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".json");
            string csv = CommonOptions.CsvBeside(outPath);
            string? plotPath = CommonOptions.PlotFile(parse.GetValue(plot));
            var texts = PromptFile.Read(parse.GetValue(text)!, parse.GetValue(encodingErrors));
            using var a = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            string? bDir = parse.GetValue(modelB);
            using var bOwned = bDir == null ? null : CommonOptions.LoadModel(CommonOptions.ModelDirectory(bDir), parse.GetValue(threads), parse.GetValue(device)!);
            var b = bOwned ?? a;
            if (bOwned != null) TokenizerCompatibility.Require(a, b, texts.Take(4));
            var ids = CompareCommand.Encode(a, texts, limit);
            var options = new StitchingOptions
            {
                SlotsA = CommonOptions.Slots(parse.GetValue(slotsA)!, a.Layers, "--slots-a"),
                SlotsB = CommonOptions.Slots(parse.GetValue(slotsB)!, b.Layers, "--slots-b"),
                Ridge = parse.GetValue(ridge),
                HeldOutFraction = parse.GetValue(holdout),
            };

            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var clock = Stopwatch.StartNew();
            StitchingReport? report = null;
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("stitching", maxValue: 1);
                    report = StitchingExperiment.Run(a, b, ids, options, new Progress<(string Stage, double Fraction)>(p =>
                    {
                        task.Description = $"stitching: {Markup.Escape(p.Stage)}";
                        task.Value = p.Fraction;
                    }));
                    task.Value = 1;
                });
            clock.Stop();
            var rep = report!;

            var table = new Table().Border(TableBorder.Rounded)
                .Title($"stitching penalty ℒ_stitch − ℒ_B (nats/token) on {rep.HeldOutTexts} held-out texts ({rep.HeldOutTokens} tokens); ℒ_B = {rep.LossB:F4}")
                .AddColumn("A slot \\ B slot");
            foreach (int j in rep.SlotsB) table.AddColumn(j.ToString(), c => c.RightAligned());
            foreach (int i in rep.SlotsA)
                table.AddRow([i.ToString(), .. rep.SlotsB.Select(j => $"{rep.Cell(i, j).Penalty:F3} [grey](R² {rep.Cell(i, j).HeldOut.MeanR2:F2})[/]")]);
            console.Write(table);
            if (rep.LossA is double lossA) console.MarkupLine($"ℒ_A = {lossA:F4}; fit on {rep.TrainTexts} texts ({rep.TrainTokens} tokens).");

            var json = new
            {
                command = "stitch",
                model_a = a.Folder.Directory,
                model_b = b.Folder.Directory,
                slots_a = rep.SlotsA,
                slots_b = rep.SlotsB,
                ridge = parse.GetValue(ridge),
                loss_b = rep.LossB,
                loss_a = rep.LossA,
                train_texts = rep.TrainTexts,
                held_out_texts = rep.HeldOutTexts,
                train_tokens = rep.TrainTokens,
                held_out_tokens = rep.HeldOutTokens,
                penalty = CompareCommand.Jagged(rep.PenaltyMatrix()),
                cells = rep.Cells.Select(c => new
                {
                    slot_a = c.SlotA,
                    slot_b = c.SlotB,
                    lambda = c.Lambda,
                    train_mse = c.InSample.Mse,
                    train_r2 = c.InSample.MeanR2,
                    held_out_mse = c.HeldOut.Mse,
                    held_out_r2 = c.HeldOut.MeanR2,
                    held_out_r2_per_dimension = c.HeldOut.R2PerDimension,
                    stitched_loss = c.StitchedLoss,
                    penalty = c.Penalty,
                    penalty_vs_a = c.PenaltyVsA,
                }),
                seconds = clock.Elapsed.TotalSeconds,
            };
            using var files = new StagedFiles();
            files.Stage(outPath, CompareCommand.Json(json));
            files.Stage(csv, CompareCommand.TableCsv(
                ["slot_a", "slot_b", "lambda", "train_mse", "train_r2", "held_out_mse", "held_out_r2", "stitched_loss", "loss_b", "penalty", "penalty_vs_a"],
                rep.Cells.Select(c => (IReadOnlyList<object?>)[c.SlotA, c.SlotB, c.Lambda, c.InSample.Mse, c.InSample.MeanR2, c.HeldOut.Mse, c.HeldOut.MeanR2,
                    c.StitchedLoss, rep.LossB, c.Penalty, c.PenaltyVsA])));
            if (plotPath != null)
                files.Stage(plotPath, LayerPlots.Heatmap(LayerPlots.FormatOf(plotPath), $"stitching penalty (nats/token), {CompareCommand.Name(a)} → {CompareCommand.Name(b)}",
                    $"slot j of {CompareCommand.Name(b)}", $"slot i of {CompareCommand.Name(a)}", rep.PenaltyMatrix(),
                    rep.SlotsB.Select(j => j.ToString()).ToList(), rep.SlotsA.Select(i => i.ToString()).ToList(), HeatmapScale.Signed("ℒ_stitch − ℒ_B (nats/token)")));
            files.Commit();
            console.MarkupLine($"wrote {Markup.Escape(outPath)}, {Markup.Escape(csv)}{(plotPath != null ? ", " + Markup.Escape(plotPath) : "")} [grey]({clock.Elapsed.TotalSeconds:F2} s)[/]");
            return 0;
        });
        return command;
    }
}
