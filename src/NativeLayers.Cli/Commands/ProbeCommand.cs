using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Probes;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl probe`: a multinomial logistic probe per residual slot on labelled prompts, with held-out accuracy.</summary>
public static class ProbeCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var data = new Option<string>("--data") { Description = "JSONL, one {\"text\": ..., \"label\": ...} object a line.", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var slots = new Option<string>("--slots") { Description = "Residual slots to probe (0 = embeddings, l + 1 = after block l, … L): all, or a list such as 0-3,-1.", DefaultValueFactory = _ => "all" };
        var position = new Option<string>("--position") { Description = "mean (mean over the prompt's tokens) or last (last token).", DefaultValueFactory = _ => "mean" };
        var holdout = new Option<double>("--holdout") { Description = "Fraction of each label's examples held out.", DefaultValueFactory = _ => 0.25 }.Requiring(h => h > 0 && h < 1, "in (0, 1)");
        var seed = new Option<ulong>("--seed") { Description = "Seed of the train/held-out split.", DefaultValueFactory = _ => 1UL };
        var l2 = new Option<double>("--l2") { Description = "L2 penalty λ on the (standardised) weights.", DefaultValueFactory = _ => 1e-3 }.AtLeast(0.0);
        var iterations = new Option<int>("--max-iterations") { Description = "L-BFGS iteration cap.", DefaultValueFactory = _ => 500 }.AtLeast(1);
        var output = new Option<string>("--out", "-o") { Description = "JSON file with every layer's scores (a .csv beside it lists them).", Required = true };
        var plot = new Option<string?>("--plot") { Description = "Per-layer accuracy curves (.png or .svg)." };

        var command = new Command("probe", "Train a linear (multinomial logistic) probe on every residual slot and report held-out accuracy.")
            { model, threads, device, data, encodingErrors, slots, position, holdout, seed, l2, iterations, output, plot };
        command.SetAction(parse =>
        {
            string outPath = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".json");
            string csv = CommonOptions.CsvBeside(outPath);
            string? plotPath = CommonOptions.PlotFile(parse.GetValue(plot));
            var examples = ProbeData.Read(parse.GetValue(data)!, parse.GetValue(encodingErrors));
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var options = new LayerProbeOptions
            {
                Rows = parse.GetValue(position) switch
                {
                    "mean" => TokenRows.MeanOfTokens,
                    "last" => TokenRows.LastToken,
                    var p => throw new NativeLayersException($"--position must be mean or last, got '{p}'."),
                },
                Slots = CommonOptions.Slots(parse.GetValue(slots)!, m.Layers, "--slots"),
                HeldOutFraction = parse.GetValue(holdout),
                Seed = parse.GetValue(seed),
                Probe = new ProbeOptions
                {
                    L2 = parse.GetValue(l2),
                    MaxIterations = parse.GetValue(iterations),
                },
            };
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var clock = Stopwatch.StartNew();
            ProbeReport? report = null;
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("probing", maxValue: 1);
                    report = LayerProbing.Run(m, examples, options, new Progress<(string Stage, double Fraction)>(p =>
                    {
                        task.Description = Markup.Escape(p.Stage);
                        task.Value = p.Fraction;
                    }));
                    task.Value = 1;
                });
            clock.Stop();
            var rep = report!;

            var table = new Table().Border(TableBorder.Rounded)
                .Title($"linear probes: {rep.Classes.Count} labels, {rep.TrainIndices.Length} train / {rep.HeldOutIndices.Length} held-out prompts (seed {options.Seed}), majority baseline {rep.MajorityBaseline:P1}")
                .AddColumns("slot", "train acc", "held-out acc", "held-out CE (nats)", "iterations");
            foreach (var l in rep.Layers)
                table.AddRow(l.Slot.ToString(), $"{l.TrainAccuracy:P1}", $"{l.HeldOutAccuracy:P1}", $"{l.HeldOutCrossEntropy:F3}",
                    l.Iterations + (l.Converged ? "" : " [yellow](cap)[/]"));
            console.Write(table);
            var best = rep.Layers.OrderByDescending(l => l.HeldOutAccuracy).ThenBy(l => l.HeldOutCrossEntropy).First();
            console.MarkupLine($"best held-out accuracy: slot {best.Slot} ({best.HeldOutAccuracy:P1})");

            using var files = new StagedFiles();
            files.Stage(outPath, CompareCommand.Json(new
            {
                command = "probe",
                model = m.Folder.Directory,
                position = parse.GetValue(position),
                classes = rep.Classes,
                seed = options.Seed,
                held_out_fraction = options.HeldOutFraction,
                l2 = options.Probe.L2,
                train_indices = rep.TrainIndices,
                held_out_indices = rep.HeldOutIndices,
                majority_baseline = rep.MajorityBaseline,
                layers = rep.Layers.Select(l => new
                {
                    slot = l.Slot,
                    train_accuracy = l.TrainAccuracy,
                    held_out_accuracy = l.HeldOutAccuracy,
                    held_out_cross_entropy = l.HeldOutCrossEntropy,
                    iterations = l.Iterations,
                    converged = l.Converged,
                }),
                seconds = clock.Elapsed.TotalSeconds,
            }));
            files.Stage(csv, CompareCommand.TableCsv(["slot", "train_accuracy", "held_out_accuracy", "held_out_cross_entropy", "iterations", "converged"],
                rep.Layers.Select(l => (IReadOnlyList<object?>)[l.Slot, l.TrainAccuracy, l.HeldOutAccuracy, l.HeldOutCrossEntropy, l.Iterations, l.Converged])));
            if (plotPath != null)
                files.Stage(plotPath, LayerPlots.Curves(LayerPlots.FormatOf(plotPath), $"linear probe accuracy, {CompareCommand.Name(m)}", "residual slot", "accuracy",
                    rep.Layers.Select(l => l.Slot).ToList(),
                    [
                        ("held-out", rep.Layers.Select(l => l.HeldOutAccuracy).ToArray()),
                        ("train", rep.Layers.Select(l => l.TrainAccuracy).ToArray()),
                        ("majority baseline", rep.Layers.Select(_ => rep.MajorityBaseline).ToArray()),
                    ]));
            files.Commit();
            console.MarkupLine($"wrote {Markup.Escape(outPath)}, {Markup.Escape(csv)}{(plotPath != null ? ", " + Markup.Escape(plotPath) : "")} [grey]({clock.Elapsed.TotalSeconds:F2} s)[/]");
            return 0;
        });
        return command;
    }
}
