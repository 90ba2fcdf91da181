using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Analysis.Metrics;
using NativeLayers.Analysis.Probes;
using NativeLayers.Analysis.Segmentation;
using NativeLayers.Analysis.Studies;
using NativeLayers.Analysis.Stitching;
using NativeLayers.Analysis.Vectors;
using System.Globalization;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl study`: each target paper's experiment end to end, written as a report folder (report.md, results.json, PNGs).</summary>
public static class StudyCommand
{
    public static Command Build()
    {
        var command = new Command("study", "Run a paper's experiment end to end and write a report folder (report.md, results.json, PNG plots).");
        command.Subcommands.Add(LayerQuality());
        command.Subcommands.Add(Stitch());
        command.Subcommands.Add(LayerRoles());
        command.Subcommands.Add(ReasoningSteer());
        command.Subcommands.Add(Plasticity());
        return command;
    }

    /// <summary>The options every study has: the model, threads, device, the report folder and its format.</summary>
    private sealed class Common
    {
        public readonly Option<string> Model = CommonOptions.Model();
        public readonly Option<int> Threads = CommonOptions.Threads();
        public readonly Option<string> Device = CommonOptions.Device();
        public readonly Option<EncodingErrors> EncodingErrors = CommonOptions.EncodingErrors();
        public readonly Option<string> Out = new("--out", "-o") { Description = "Report folder: report.md, results.json and PNG plots (replaced as a whole).", Required = true };
        public readonly Option<string> Format = new("--format") { Description = "md (report.md) or html (also one self-contained report.html with the plots inlined).", DefaultValueFactory = _ => "md" };

        public Command Into(Command command, bool withModel = true)
        {
            if (withModel) command.Options.Add(Model);
            foreach (var option in new Option[] { Threads, Device, EncodingErrors, Out, Format }) command.Options.Add(option);
            return command;
        }

        public Transformer LoadFolder(ParseResult parse, string value) =>
            CommonOptions.LoadModel(CommonOptions.ModelDirectory(value), parse.GetValue(Threads), parse.GetValue(Device)!);

        public Transformer Load(ParseResult parse, Option<string> which) =>
            CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(which)), parse.GetValue(Threads), parse.GetValue(Device)!);

        /// <summary>The report folder, checked before any work (its parent must take files), and the format.</summary>
        public (string Folder, StudyReportFormat Format) Output(ParseResult parse)
        {
            string folder = parse.GetValue(Out)!;
            var format = parse.GetValue(Format) switch
            {
                "md" or "markdown" => StudyReportFormat.Markdown,
                "html" => StudyReportFormat.Html,
                var f => throw new NativeLayersException($"--format must be md or html, got '{f}'."),
            };
            if (File.Exists(folder)) throw new ModelFileException(folder, "--out is a file; a study writes a folder.");
            CommonOptions.OutputFolder(Path.GetDirectoryName(Path.GetFullPath(folder))!, "--out");
            return (folder, format);
        }

        public static void Finish(ParseResult parse, StudyReport report, (string Folder, StudyReportFormat Format) output, double seconds)
        {
            StudyReportWriter.Write(output.Folder, report, output.Format);
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            foreach (var answer in report.Answers) console.MarkupLine($"[bold]{Markup.Escape(answer.Question)}[/] {Markup.Escape(answer.Answer)}");
            console.MarkupLine($"wrote {Markup.Escape(Path.Combine(output.Folder, "report.md"))}, {StudyReportWriter.ResultsFile} and {report.Plots.Count} plots [grey]({seconds:F2} s)[/]");
        }
    }

    private static Command LayerQuality()
    {
        var common = new Common();
        var prompts = new Option<string>("--prompts", "-p") { Description = "Prompts: plain text, one a line, or JSONL ({\"text\": ...} per line).", Required = true };
        var probeData = new Option<string?>("--probe-data") { Description = "Labelled prompts for per-slot linear probes: JSONL, {\"text\": ..., \"label\": ...} per line." };
        var stsData = new Option<string?>("--sts-data") { Description = "Scored pairs for embedding models' per-slot STS and retrieval scores: JSONL, {\"sentence1\": ..., \"sentence2\": ..., \"score\": number} per line." };
        var metricList = new Option<string>("--metrics") { Description = $"Comma-separated: {string.Join(", ", LayerMetricNames.All.Select(LayerMetricNames.Cli))} (nl metrics' default).", DefaultValueFactory = _ => "prompt-entropy,dataset-entropy,curvature,effective-rank" };
        var alpha = new Option<double>("--alpha") { Description = "Rényi order α of the entropies.", DefaultValueFactory = _ => 1.0 }.Positive();
        var mode = new Option<string>("--mode") { Description = "recommended, or paper (PaperCompat).", DefaultValueFactory = _ => "recommended" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the augmentations and DiME permutations.", DefaultValueFactory = _ => 0UL };
        var maxPrompts = new Option<int>("--max-prompts") { Description = "Use at most this many prompts (0 = all).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var command = common.Into(new Command("layer-quality",
            "Layer by Layer: every representation metric per slot (as nl metrics), per-slot probe accuracy, the best slot per metric and task, and whether an intermediate slot beats the last."));
        foreach (var option in new Option[] { prompts, probeData, stsData, metricList, alpha, mode, seed, maxPrompts }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var output = common.Output(parse);
            var metrics = new LayerMetricsOptions
            {
                Metrics = LayerMetricNames.Parse(parse.GetValue(metricList)!),
                Alpha = parse.GetValue(alpha),
                Mode = MetricsCommand.ParseMode(parse.GetValue(mode)!),
                Seed = parse.GetValue(seed),
            };
            var probes = new LayerProbeOptions();
            string promptPath = parse.GetValue(prompts)!;
            var texts = PromptFile.Read(promptPath, parse.GetValue(common.EncodingErrors));
            int limit = parse.GetValue(maxPrompts);
            if (limit > 0 && texts.Count > limit) texts = texts.Take(limit).ToList();
            string? probePath = parse.GetValue(probeData);
            var labelled = probePath is null ? null : ProbeData.Read(probePath, parse.GetValue(common.EncodingErrors));
            string? stsPath = parse.GetValue(stsData);
            var scored = stsPath is null ? null : SimilarityPairs.Read(stsPath, parse.GetValue(common.EncodingErrors));
            using var model = common.Load(parse, common.Model);
            var clock = Stopwatch.StartNew();
            var result = LayerQualityStudy.Run(model, texts, labelled, metrics, probes, scored);
            clock.Stop();
            var context = new StudyContext(model.Folder.Directory, promptPath) { ProbeDataPath = probePath, PairsDataPath = stsPath, Seconds = clock.Elapsed.TotalSeconds };
            Common.Finish(parse, LayerQualityStudy.Report(result, context, probes), output, clock.Elapsed.TotalSeconds);
            return 0;
        });
        return command;
    }

    private static Command Stitch()
    {
        var common = new Common();
        var modelB = new Option<string>("--model-b") { Description = "Model B (must share A's tokenizer).", Required = true };
        var text = new Option<string>("--text") { Description = "Texts: JSONL ({\"text\": ...} per line) or plain text, one text a line.", Required = true };
        var ridge = new Option<double?>("--ridge") { Description = "Ridge λ (default: nl stitch's 1e-6·tr(X_cᵀX_c)/d_A)." }.AtLeast(0.0);
        var holdout = new Option<double>("--holdout") { Description = "Fraction of texts held out for the losses.", DefaultValueFactory = _ => 0.25 }.Requiring(h => h > 0 && h < 1, "in (0, 1)");
        var maxTokens = new Option<int>("--max-tokens") { Description = "Truncate each text to this many tokens (0 = no limit).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var oneWay = new Option<bool>("--one-way") { Description = "Stitch A into B only (no B→A run, no asymmetry)." };
        var command = common.Into(new Command("stitch",
            "Brown et al.: layer×layer stitching penalties of two models beside their CKA, the asymmetry between directions and the best stitch per layer."));
        foreach (var option in new Option[] { modelB, text, ridge, holdout, maxTokens, oneWay }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var output = common.Output(parse);
            string textPath = parse.GetValue(text)!;
            var texts = PromptFile.Read(textPath, parse.GetValue(common.EncodingErrors));
            using var a = common.Load(parse, common.Model);
            using var b = common.Load(parse, modelB);
            TokenizerCompatibility.Require(a, b, texts.Take(4));
            var ids = CompareCommand.Encode(a, texts, parse.GetValue(maxTokens));
            var options = new StitchingOptions { Ridge = parse.GetValue(ridge), HeldOutFraction = parse.GetValue(holdout) };
            var clock = Stopwatch.StartNew();
            var result = StitchStudy.Run(a, b, ids, options, bothDirections: !parse.GetValue(oneWay));
            clock.Stop();
            var context = new StudyContext(a.Folder.Directory, textPath) { ModelBPath = b.Folder.Directory, Seconds = clock.Elapsed.TotalSeconds };
            Common.Finish(parse, StitchStudy.Report(result, context, options), output, clock.Elapsed.TotalSeconds);
            return 0;
        });
        return command;
    }

    private static Command LayerRoles()
    {
        var common = new Common();
        var modelB = new Option<string>("--model-b") { Description = "The tuned model (same architecture and tokenizer as --model, the base).", Required = true };
        var data = new Option<string>("--data") { Description = "JSONL, {\"text\": ..., \"label\": ..., \"task\": ...} a line (no task = one task).", Required = true };
        var sharedThreshold = new Option<double>("--shared-threshold") { Description = "θ_s of §15.", DefaultValueFactory = _ => new SegmentationOptions().SharedThreshold };
        var sharedGap = new Option<double>("--shared-gap") { Description = "ε of §15.", DefaultValueFactory = _ => new SegmentationOptions().SharedGap };
        var transition = new Option<double>("--transition-fraction") { Description = "ρ of §15.", DefaultValueFactory = _ => new SegmentationOptions().TransitionFraction };
        var resamples = new Option<int>("--bootstrap") { Description = "Bootstrap resamples over tasks.", DefaultValueFactory = _ => 1000 }.AtLeast(0);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the bootstrap.", DefaultValueFactory = _ => 1UL };
        var command = common.Into(new Command("layer-roles",
            "Zhao et al.: per task and layer, CKA between a base and a tuned model and probe accuracy of each; layers segmented into shared / transition / refinement (metrics.md §15)."));
        foreach (var option in new Option[] { modelB, data, sharedThreshold, sharedGap, transition, resamples, seed }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var output = common.Output(parse);
            string dataPath = parse.GetValue(data)!;
            var tasks = TaskData.Read(dataPath, parse.GetValue(common.EncodingErrors));
            using var a = common.Load(parse, common.Model);
            using var b = common.Load(parse, modelB);
            TokenizerCompatibility.Require(a, b, tasks.SelectMany(t => t.Examples).Take(4).Select(e => e.Text));
            var segmentation = new SegmentationOptions
            {
                SharedThreshold = parse.GetValue(sharedThreshold),
                SharedGap = parse.GetValue(sharedGap),
                TransitionFraction = parse.GetValue(transition),
            };
            var clock = Stopwatch.StartNew();
            var result = LayerRolesStudy.Run(a, b, tasks, segmentation, new LayerProbeOptions(), parse.GetValue(resamples), parse.GetValue(seed));
            clock.Stop();
            var context = new StudyContext(a.Folder.Directory, dataPath) { ModelBPath = b.Folder.Directory, Seconds = clock.Elapsed.TotalSeconds };
            Common.Finish(parse, LayerRolesStudy.Report(result, context), output, clock.Elapsed.TotalSeconds);
            return 0;
        });
        return command;
    }

    private static Command ReasoningSteer()
    {
        var common = new Common();
        var pairs = new Option<string?>("--pairs") { Description = "Contrastive pairs for the vectors (nl vector extract's JSONL); default: correct vs incorrect completions of the task's first half." };
        var task = new Option<string>("--task") { Description = $"Built-in task ({string.Join(", ", ChoiceTasks.BuiltIn)}) or a JSONL file of {{\"context\": ..., \"choices\": [...], \"gold\": i}}.", DefaultValueFactory = _ => "ioi" };
        var questions = new Option<int>("--questions", "-n") { Description = "Questions generated for a built-in task.", DefaultValueFactory = _ => 24 }.AtLeast(2);
        var seed = new Option<ulong>("--seed") { Description = "Seed of the generated questions.", DefaultValueFactory = _ => 1UL };
        var layers = new Option<string>("--layers") { Description = "Blocks to steer, one at a time: all, or a list such as 0-3,-1.", DefaultValueFactory = _ => "all" };
        var coefficients = new Option<string>("--coefficients") { Description = "Comma-separated coefficients of the MeanDiff vector.", DefaultValueFactory = _ => "-2,-1,-0.5,0,0.5,1,2" };
        var command = common.Into(new Command("reasoning-steer",
            "Højer et al.: control vectors from positive vs negative completions, swept over coefficients × layers; multiple-choice accuracy by log-likelihood, KL and entropy against the unsteered model."));
        foreach (var option in new Option[] { pairs, task, questions, seed, layers, coefficients }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var output = common.Output(parse);
            string taskName = parse.GetValue(task)!;
            var items = ChoiceTasks.BuiltIn.Contains(taskName)
                ? ChoiceTasks.Generate(taskName, parse.GetValue(questions), parse.GetValue(seed))
                : ChoiceTasks.Read(taskName, parse.GetValue(common.EncodingErrors));
            string? pairPath = parse.GetValue(pairs);
            var pairList = pairPath is null ? null : ContrastivePairs.Read(pairPath, parse.GetValue(common.EncodingErrors));
            var coefficientList = parse.GetValue(coefficients)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(p => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out float c) && float.IsFinite(c) ? c
                    : throw new NativeLayersException($"--coefficients: '{p}' is not a number.")).ToArray();
            if (coefficientList.Length == 0) throw new NativeLayersException("--coefficients is empty.");
            using var model = common.Load(parse, common.Model);
            var blocks = CommonOptions.Layers(parse.GetValue(layers)!, model.Layers, "--layers");
            var clock = Stopwatch.StartNew();
            var result = ReasoningSteerStudy.Run(model, ChoiceTasks.BuiltIn.Contains(taskName) ? taskName : Path.GetFileName(taskName), items, pairList, blocks, coefficientList);
            clock.Stop();
            var context = new StudyContext(model.Folder.Directory, pairPath ?? taskName) { Seconds = clock.Elapsed.TotalSeconds, Seed = ChoiceTasks.BuiltIn.Contains(taskName) ? parse.GetValue(seed) : null };
            Common.Finish(parse, ReasoningSteerStudy.Report(result, context), output, clock.Elapsed.TotalSeconds);
            return 0;
        });
        return command;
    }

    private static Command Plasticity()
    {
        var common = new Common();
        var models = new Option<string[]>("--model", "-m") { Description = "The checkpoints in order (folders or ORG/NAME@REVISION), one --model each.", Required = true, AllowMultipleArgumentsPerToken = false };
        var pairs = new Option<string>("--pairs") { Description = "Contrastive pairs (nl vector extract's JSONL).", Required = true };
        var layer = new Option<int?>("--layer") { Description = "Block whose output is read and steered (default: the last, as Kannan)." };
        var coefficient = new Option<float>("--coefficient") { Description = "Coefficient of the added vectors.", DefaultValueFactory = _ => 1f };
        var command = common.Into(new Command("plasticity",
            "Kannan: a steering vector per checkpoint, every vector applied to every checkpoint, the effect matrix and its timeline, and the vectors' cosine similarities."), withModel: false);
        foreach (var option in new Option[] { models, pairs, layer, coefficient }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var output = common.Output(parse);
            string pairPath = parse.GetValue(pairs)!;
            var pairList = ContrastivePairs.Read(pairPath, parse.GetValue(common.EncodingErrors));
            var values = parse.GetValue(models)!;
            var checkpoints = new List<Transformer>();
            try
            {
                foreach (string value in values) checkpoints.Add(common.LoadFolder(parse, value));
                foreach (var c in checkpoints.Skip(1)) TokenizerCompatibility.Require(checkpoints[0], c, pairList.Take(4).Select(p => p.Positive));
                var clock = Stopwatch.StartNew();
                var result = PlasticityStudy.Run(checkpoints, values, pairList, parse.GetValue(layer) ?? checkpoints[0].Layers - 1, parse.GetValue(coefficient));
                clock.Stop();
                var context = new StudyContext(checkpoints[0].Folder.Directory, pairPath) { Seconds = clock.Elapsed.TotalSeconds };
                Common.Finish(parse, PlasticityStudy.Report(result, context), output, clock.Elapsed.TotalSeconds);
            }
            finally
            {
                foreach (var c in checkpoints) c.Dispose();
            }
            return 0;
        });
        return command;
    }
}
