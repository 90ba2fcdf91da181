using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NativeLayers.Analysis.Metrics;
using NativeLayers.Analysis.Plots;
using NativeLayers.Loading;
using NativeLayers.Runtime.Capture;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl metrics`: per-layer representation metrics of a prompt set (metrics.md §2–§9) to JSON, CSV and a plot.</summary>
public static class MetricsCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var prompts = new Option<string>("--prompts", "-p") { Description = "Prompts: plain text, one a line, or JSONL ({\"text\": ...} per line).", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var metricList = new Option<string>("--metrics") { Description = $"Comma-separated: {string.Join(", ", LayerMetricNames.All.Select(LayerMetricNames.Cli))}.", DefaultValueFactory = _ => "prompt-entropy,dataset-entropy,curvature,effective-rank" };
        var alpha = new Option<double>("--alpha") { Description = "Rényi order α of the entropies (1 = von Neumann).", DefaultValueFactory = _ => 1.0 }.Positive();
        var mode = new Option<string>("--mode") { Description = "recommended, or paper (PaperCompat: final-normed last layer, the reference code's quirks).", DefaultValueFactory = _ => "recommended" };
        var output = new Option<string>("--out", "-o") { Description = "JSON file: {\"slots\": [...], \"metrics\": {name: [value per slot]}}.", Required = true };
        var plot = new Option<string?>("--plot") { Description = "Per-layer curves figure (.png or .svg)." };
        var csv = new Option<string?>("--csv") { Description = "CSV with every number (normalised variants, counts, extra statistics)." };
        var batch = new Option<int>("--batch", "-b") { Description = "Sequences per forward call.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var maxTokens = new Option<int>("--max-tokens") { Description = "Truncate each prompt to this many tokens (0 = no limit).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var maxPrompts = new Option<int>("--max-prompts") { Description = "Use at most this many prompts (0 = all; (a) uses 1000).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the augmentations and DiME permutations.", DefaultValueFactory = _ => 0UL };
        var temperature = new Option<double>("--temperature") { Description = "InfoNCE temperature τ.", DefaultValueFactory = _ => InfoNce.DefaultTemperature }.Positive();

        var command = new Command("metrics", "Per-layer metrics of a prompt set: prompt/dataset entropy, curvature, effective rank, InfoNCE, LiDAR, DiME.")
            { model, threads, device, prompts, encodingErrors, metricList, alpha, mode, output, plot, csv, batch, maxTokens, maxPrompts, seed, temperature };
        command.SetAction(parse =>
        {
            var options = new LayerMetricsOptions
            {
                Metrics = LayerMetricNames.Parse(parse.GetValue(metricList)!),
                Alpha = parse.GetValue(alpha),
                Mode = ParseMode(parse.GetValue(mode)!),
                BatchSize = parse.GetValue(batch),
                MaxTokens = parse.GetValue(maxTokens),
                Seed = parse.GetValue(seed),
                Temperature = parse.GetValue(temperature),
            };
            string outPath = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".json");
            string? csvPath = parse.GetValue(csv) is { } c ? CommonOptions.OutputFile(c, "--csv", ".csv") : null;
            string? plotPath = CommonOptions.PlotFile(parse.GetValue(plot));
            int limit = parse.GetValue(maxPrompts);
            var texts = PromptFile.Read(parse.GetValue(prompts)!, parse.GetValue(encodingErrors));
            if (limit > 0 && texts.Count > limit) texts = texts.Take(limit).ToList();

            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var clock = Stopwatch.StartNew();
            LayerMetricsResult? result = null;
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    var reporter = new SynchronousProgress(p =>
                    {
                        lock (tasks)
                        {
                            if (!tasks.TryGetValue(p.Phase, out var task)) tasks[p.Phase] = task = ctx.AddTask(Markup.Escape(p.Phase), maxValue: p.Total);
                            task.Value = Math.Max(task.Value, p.Done);
                        }
                    });
                    result = LayerMetrics.Run(m, texts, options, reporter);
                    foreach (var t in tasks.Values) t.Value = t.MaxValue;
                });
            clock.Stop();
            var r = result!;

            using var files = new StagedFiles();
            files.Stage(outPath, MetricsReport.ToJson(r));
            if (csvPath != null) files.Stage(csvPath, MetricsReport.ToCsv(r));
            if (plotPath != null)
                files.Stage(plotPath, LayerPlots.Panels(LayerPlots.FormatOf(plotPath), "slot (0 = embeddings, l + 1 = after block l)", r.Slots,
                    r.Values.Select(kv => new CurvePanel($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(m.Folder.Directory))}: {kv.Key} (α = {r.Alpha.ToString(CultureInfo.InvariantCulture)}, {(r.Mode == MetricMode.PaperCompat ? "paper" : "recommended")}, n = {r.Prompts})",
                        LayerMetricsUnits.Of(kv.Key), [("", kv.Value)])).ToList()));
            files.Commit();

            var table = new Table().Border(TableBorder.Rounded).AddColumn(new TableColumn("slot").RightAligned());
            foreach (var name in r.Values.Keys) table.AddColumn(new TableColumn(Markup.Escape(name)).RightAligned());
            for (int i = 0; i < r.Slots.Length; i++)
            {
                var cells = new List<string> { r.Slots[i].ToString(CultureInfo.InvariantCulture) };
                cells.AddRange(r.Values.Values.Select(v => double.IsFinite(v[i]) ? v[i].ToString("F4", CultureInfo.InvariantCulture) : "—"));
                table.AddRow(cells.ToArray());
            }
            console.Write(table);
            foreach (var w in r.Warnings) console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(w)}");
            console.MarkupLine($"{r.Prompts} prompts × {r.Slots.Length} slots, α = {r.Alpha.ToString(CultureInfo.InvariantCulture)}, mode {(r.Mode == MetricMode.PaperCompat ? "paper" : "recommended")}, seed {r.Seed} → {Markup.Escape(outPath)}"
                + (csvPath != null ? $", {Markup.Escape(csvPath)}" : "") + (plotPath != null ? $", {Markup.Escape(plotPath)}" : ""));
            console.MarkupLine($"[grey]{clock.Elapsed.TotalSeconds:F2} s[/]");
            return 0;
        });
        return command;
    }

    internal static MetricMode ParseMode(string text) => text.ToLowerInvariant() switch
    {
        "recommended" => MetricMode.Recommended,
        "paper" or "papercompat" => MetricMode.PaperCompat,
        var other => throw new NativeLayersException($"--mode must be recommended or paper, got '{other}'."),
    };

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and race the final update).</summary>
    private sealed class SynchronousProgress(Action<LayerMetricsProgress> report) : IProgress<LayerMetricsProgress>
    {
        public void Report(LayerMetricsProgress value) => report(value);
    }
}
