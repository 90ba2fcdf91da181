using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Analysis.Stitching;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl compare`: layer×layer representation similarity (CKA, SVCCA, PWCCA; metrics.md §10–11) within one model or between two.</summary>
public static class CompareCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var modelB = new Option<string?>("--model-b") { Description = "Second model folder or Hugging Face Hub ORG/NAME[@REVISION] (another model or checkpoint); omit to compare the first model with itself." };
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var prompts = new Option<string>("--prompts", "-p") { Description = "Prompts: JSONL ({\"text\": ...} per line) or plain text, one prompt a line.", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var mode = new Option<string>("--mode") { Description = "tokens (one row per token; needs a shared tokenizer), pooled (mean over each prompt's tokens) or last (last token).", DefaultValueFactory = _ => "pooled" };
        var method = new Option<string>("--method") { Description = "linear (CKA), rbf (CKA), debiased (linear CKA, unbiased HSIC), debiased-rbf, svcca, pwcca.", DefaultValueFactory = _ => "linear" };
        var threshold = new Option<double>("--rbf-threshold") { Description = "RBF bandwidth as a fraction of the median distance (thr).", DefaultValueFactory = _ => 1.0 }.Positive();
        var variance = new Option<double>("--variance") { Description = "SVCCA: variance fraction kept per side.", DefaultValueFactory = _ => 0.99 }.Requiring(v => v > 0 && v <= 1, "in (0, 1]");
        var finalNorm = new Option<bool>("--final-norm") { Description = "PaperCompat: read the last slot as FinalNorm(R[L]) (Hugging Face's last hidden state)." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Truncate each prompt to this many tokens (0 = no limit).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var output = new Option<string>("--out", "-o") { Description = "JSON file with the matrix and its settings (a .csv beside it holds the matrix).", Required = true };
        var plot = new Option<string?>("--plot") { Description = "Heatmap image (.png or .svg)." };

        var command = new Command("compare", "Layer×layer similarity (CKA, SVCCA, PWCCA) of two models, or one model with itself, on the same prompts.")
            { model, modelB, threads, device, prompts, encodingErrors, mode, method, threshold, variance, finalNorm, maxTokens, output, plot };
        command.SetAction(parse =>
        {
            var similarity = ParseMethod(parse.GetValue(method)!);
            var rows = TokenRows.Parse(parse.GetValue(mode)!, "--mode");
            int limit = parse.GetValue(maxTokens);
            string outPath = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".json");
            string csv = CommonOptions.CsvBeside(outPath);
            string? plotPath = CommonOptions.PlotFile(parse.GetValue(plot));
            var options = new SimilarityOptions
            {
                Rbf = new RbfOptions { Threshold = parse.GetValue(threshold) },
                VarianceThreshold = parse.GetValue(variance),
            };
            var texts = PromptFile.Read(parse.GetValue(prompts)!, parse.GetValue(encodingErrors));
            using var a = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            string? bDir = parse.GetValue(modelB);
            using var bOwned = bDir == null ? null : CommonOptions.LoadModel(CommonOptions.ModelDirectory(bDir), parse.GetValue(threads), parse.GetValue(device)!);
            var b = bOwned ?? a;
            var idsA = Encode(a, texts, limit);
            var idsB = bOwned == null ? idsA : Encode(b, texts, limit);
            if (rows == TokenRows.EveryToken && bOwned != null)
            {
                if (TokenizerCompatibility.Difference(a, b, texts.Take(4)) is { } why)
                    throw new NativeLayersException($"--mode tokens pairs rows token by token, but the models do not share a tokenizer: {why} Use --mode pooled or last.");
                for (int i = 0; i < idsA.Length; i++)
                    if (!idsA[i].AsSpan().SequenceEqual(idsB[i])) throw new NativeLayersException($"prompt {i + 1} encodes differently in the two models; use --mode pooled.");
            }

            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var clock = Stopwatch.StartNew();
            SimilarityMatrix? result = null;
            var activation = new ActivationOptions { Rows = rows, FinalNormLastSlot = parse.GetValue(finalNorm) };
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var runA = ctx.AddTask("running model A", maxValue: texts.Count);
                    var la = LayerActivations.Collect(a, idsA, activation, new Progress<int>(n => runA.Value = n));
                    runA.Value = texts.Count;
                    Analysis.Linalg.Matrix[]? lb = null;
                    if (bOwned != null)
                    {
                        var runB = ctx.AddTask("running model B", maxValue: texts.Count);
                        lb = LayerActivations.Collect(b, idsB, activation, new Progress<int>(n => runB.Value = n));
                        runB.Value = texts.Count;
                    }
                    var compare = ctx.AddTask($"{Markup.Escape(parse.GetValue(method)!)} similarity", maxValue: 1);
                    result = LayerSimilarity.Compute(la, lb, similarity, options, new Progress<double>(f => compare.Value = f));
                    compare.Value = 1;
                });
            clock.Stop();
            var values = result!.Values;
            int slotsA = values.GetLength(0), slotsB = values.GetLength(1);

            var table = new Table().Border(TableBorder.Rounded)
                .Title($"{Markup.Escape(parse.GetValue(method)!)} similarity, n = {result.Rows} {(rows == TokenRows.EveryToken ? "tokens" : "prompts")} (rows: A slots, columns: B slots)");
            table.AddColumn("A \\ B");
            for (int j = 0; j < slotsB; j++) table.AddColumn(j.ToString(), c => c.RightAligned());
            for (int i = 0; i < slotsA; i++)
                table.AddRow([i.ToString(), .. Enumerable.Range(0, slotsB).Select(j => Format(values[i, j]))]);
            console.Write(table);
            if (slotsA == slotsB)
                console.MarkupLine("diagonal: " + string.Join("  ", Enumerable.Range(0, slotsA).Select(i => $"{i}:{Format(values[i, i])}")));
            foreach (var w in result.Warnings) console.MarkupLine($"[yellow]note:[/] {Markup.Escape(w)}");

            var json = new
            {
                command = "compare",
                model_a = a.Folder.Directory,
                model_b = b.Folder.Directory,
                method = parse.GetValue(method),
                form = result.Form,
                mode = parse.GetValue(mode),
                n = result.Rows,
                prompts = texts.Count,
                slots_a = Enumerable.Range(0, slotsA).ToArray(),
                slots_b = Enumerable.Range(0, slotsB).ToArray(),
                final_norm_last_slot = parse.GetValue(finalNorm),
                rbf_threshold = options.Rbf.Threshold,
                svcca_variance = options.VarianceThreshold,
                values = Jagged(values),
                warnings = result.Warnings,
                seconds = clock.Elapsed.TotalSeconds,
            };
            using var files = new StagedFiles();
            files.Stage(outPath, Json(json));
            files.Stage(csv, MatrixCsv("slot_a\\slot_b", values, Enumerable.Range(0, slotsA).Select(i => i.ToString()).ToList(),
                Enumerable.Range(0, slotsB).Select(j => j.ToString()).ToList()));
            if (plotPath != null)
                files.Stage(plotPath, LayerPlots.Heatmap(LayerPlots.FormatOf(plotPath), $"{parse.GetValue(method)} similarity (n = {result.Rows})",
                    $"slot of {Name(b)}", $"slot of {Name(a)}", values,
                    Enumerable.Range(0, slotsB).Select(j => j.ToString()).ToList(), Enumerable.Range(0, slotsA).Select(i => i.ToString()).ToList(),
                    similarity is SimilarityMethod.DebiasedLinearCka or SimilarityMethod.DebiasedRbfCka
                        ? new HeatmapScale(parse.GetValue(method)!) // debiased CKA can dip below 0
                        : HeatmapScale.UnitInterval(parse.GetValue(method)!)));
            files.Commit();
            console.MarkupLine($"wrote {Markup.Escape(outPath)}, {Markup.Escape(csv)}{(plotPath != null ? ", " + Markup.Escape(plotPath) : "")} [grey]({clock.Elapsed.TotalSeconds:F2} s)[/]");
            return 0;
        });
        return command;
    }

    public static SimilarityMethod ParseMethod(string text) => text switch
    {
        "linear" => SimilarityMethod.LinearCka,
        "rbf" => SimilarityMethod.RbfCka,
        "debiased" => SimilarityMethod.DebiasedLinearCka,
        "debiased-rbf" => SimilarityMethod.DebiasedRbfCka,
        "svcca" => SimilarityMethod.Svcca,
        "pwcca" => SimilarityMethod.Pwcca,
        _ => throw new NativeLayersException($"--method must be linear, rbf, debiased, debiased-rbf, svcca or pwcca, got '{text}'."),
    };

    internal static int[][] Encode(Transformer model, IReadOnlyList<string> texts, int limit)
    {
        if (!model.HasTokenizer) throw new NativeLayersException($"{model.Folder.Directory} has no tokenizer, so text prompts cannot be encoded.");
        var ids = texts.Select(t => model.Tokenizer.Encode(t)).Select(x => limit > 0 && x.Length > limit ? x[..limit] : x).ToArray();
        int empty = Array.FindIndex(ids, x => x.Length == 0);
        if (empty >= 0) throw new NativeLayersException($"prompt {empty + 1} encodes to no tokens.");
        return ids;
    }

    internal static string Name(Transformer model) => Path.GetFileName(Path.GetFullPath(model.Folder.Directory).TrimEnd('/', '\\'));

    internal static string Format(double v) => double.IsNaN(v) ? "NaN" : v.ToString("F3", CultureInfo.InvariantCulture);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Any object as indented JSON (NaN and infinities as the strings "NaN", "Infinity").</summary>
    internal static string Json(object value) => JsonSerializer.Serialize(value, JsonOptions);

    internal static double[][] Jagged(double[,] m) =>
        Enumerable.Range(0, m.GetLength(0)).Select(i => Enumerable.Range(0, m.GetLength(1)).Select(j => m[i, j]).ToArray()).ToArray();

    /// <summary>A matrix as CSV: a header of column labels, then one labelled row per matrix row (round-trip precision).</summary>
    internal static string MatrixCsv(string corner, double[,] m, IReadOnlyList<string> rowLabels, IReadOnlyList<string> colLabels)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", [corner, .. colLabels]));
        for (int i = 0; i < m.GetLength(0); i++)
            sb.AppendLine(string.Join(",", [rowLabels[i], .. Enumerable.Range(0, m.GetLength(1)).Select(j => m[i, j].ToString("R", CultureInfo.InvariantCulture))]));
        return sb.ToString();
    }

    /// <summary>Rows of named columns as CSV (values formatted invariantly, strings quoted when needed).</summary>
    internal static string TableCsv(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<object?>> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", header.Select(Cell)));
        foreach (var row in rows) sb.AppendLine(string.Join(",", row.Select(Cell)));
        return sb.ToString();

        static string Cell(object? v) => v switch
        {
            null => "",
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => v.ToString() is { } s && (s.Contains(',') || s.Contains('"') || s.Contains('\n')) ? "\"" + s.Replace("\"", "\"\"") + "\"" : v.ToString() ?? "",
        };
    }
}
