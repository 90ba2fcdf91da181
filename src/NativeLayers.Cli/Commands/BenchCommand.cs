using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Backends;
using NativeLayers.Analysis.Overheads;
using NativeLayers.Analysis.Saes;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl bench`: prefill and decode throughput on random token ids, like llama-bench (median of repetitions).</summary>
public static class BenchCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length per sequence for the prefill test.", DefaultValueFactory = _ => 128 }.AtLeast(1);
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens per sequence for the decode test.", DefaultValueFactory = _ => 32 }.AtLeast(0);
        var batch = new Option<int>("--batch", "-b") { Description = "Sequences run together.", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Timed repetitions (after one warm-up).", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var command = new Command("bench", "Measure prefill and decode tokens/s on random token ids (median of repetitions).")
            { model, threads, device, promptTokens, genTokens, batch, repetitions };
        var overheads = new Option<bool>("--overheads")
        {
            Description = "Also price each feature against plain (steering at 1 / every layer, per-sequence steering, capture to host, dataset capture to disk) in paired, interleaved repetitions: median ratio with a 95% bootstrap interval.",
        };
        var precision = new Option<double>("--precision") { Description = "With --overheads: stop a feature once its interval's half-width is at most this many percent.", DefaultValueFactory = _ => 0.5 };
        var budget = new Option<double>("--budget") { Description = "With --overheads: seconds the measurement may take in all (features not yet precise then report what they have).", DefaultValueFactory = _ => 300 };
        var noDisk = new Option<bool>("--no-disk") { Description = "With --overheads: leave out the dataset capture to disk (it writes temporary shards)." };
        var sae = new Option<string?>("--sae") { Description = "With --overheads: also price this SAE spliced into its hook point (SAELens or sparsify folder, Gemma Scope params.npz).", HelpName = "DIR[@HOOK]" };
        command.Options.Add(overheads);
        command.Options.Add(precision);
        command.Options.Add(budget);
        command.Options.Add(noDisk);
        command.Options.Add(sae);
        command.SetAction(parse =>
        {
            int p = parse.GetValue(promptTokens), g = parse.GetValue(genTokens), b = parse.GetValue(batch), reps = parse.GetValue(repetitions);
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var plain = new ForwardOptions { Logits = LogitsMode.LastPerSequence, HostSlots = [] };
            long weightBytes = m.Folder.Weights.Tensors.Sum(t => t.Info.ByteLength);
            long parameters = m.Folder.Weights.Tensors.Sum(t => t.Info.ElementCount);
            string name = Path.GetFileName(Path.GetFullPath(m.Folder.Directory).TrimEnd('/'));
            var table = new Table().Border(TableBorder.Markdown)
                .AddColumns("model", "size", "params", "device", "threads", "batch", "test", "t/s (median)", "min", "max");
            var (prefill, decode) = Measure(m, plain, p, g, b, reps);
            void Add(string test, List<double> values) => table.AddRow(Markup.Escape(name), InspectCommand.Size(weightBytes),
                $"{parameters / 1e6:F1} M", DeviceKinds.Name(m.Device), m.Backend.Threads.ToString(), b.ToString(), test,
                $"{Median(values):F1}", $"{values.Min():F1}", $"{values.Max():F1}");
            Add($"pp{p}", prefill);
            if (g > 0) Add($"tg{g}", decode);
            console.Write(table);
            // Peak RSS counts the mapped weight pages the forwards touched, so it is read before the overhead runs add their own.
            console.WriteLine(ResidentMemory(weightBytes, b, p + g));
            if (!parse.GetValue(overheads) && parse.GetValue(sae) != null) throw new NativeLayersException("--sae prices an SAE among the features of --overheads; add --overheads.");
            if (parse.GetValue(overheads))
            {
                double percent = parse.GetValue(precision), seconds = parse.GetValue(budget);
                if (!(percent > 0)) throw new NativeLayersException($"--precision must be a positive percentage, got {percent}.");
                if (!(seconds > 0)) throw new NativeLayersException($"--budget must be a positive number of seconds, got {seconds}.");
                var measurement = new OverheadMeasurement(m, new OverheadSettings
                {
                    PromptTokens = p, DecodeTokens = g, Batch = b, Precision = percent / 100, Budget = TimeSpan.FromSeconds(seconds), Disk = !parse.GetValue(noDisk),
                    Sae = parse.GetValue(sae) is { } spec ? SaeFiles.Load(spec) : null,
                });
                var results = ProgressBar.Run(console, "pricing the features", bar => measurement.Run(new SynchronousProgress<OverheadProgress>(o =>
                    bar.Report(((int)(1000 * Math.Max(o.Elapsed / o.Budget, (double)o.Precise / o.Cells)), 1000)))));
                console.WriteLine();
                console.Write(OverheadTable(results));
                console.WriteLine($"Overhead = median of the paired time ratios (feature ÷ plain) − 1; interval: 95% bootstrap of that median; a target is met when the interval's upper bound is under it. Stopped at ±{percent:0.##} % or after {seconds:0} s.");
            }
            return 0;
        });
        return command;
    }

    private static Table OverheadTable(IReadOnlyList<OverheadResult> results)
    {
        var table = new Table().Border(TableBorder.Markdown)
            .AddColumns("feature", "phase", "batch", "pairs", "overhead", "95% interval", "µs/token", "analytic bytes/token", "analytic flops/token", "target", "met");
        foreach (var r in results)
            table.AddRow(Markup.Escape(r.Feature.Name), r.Phase.ToString().ToLowerInvariant(), r.Feature.Batch.ToString(), r.Pairs.ToString(),
                Percent(r.Overhead), Markup.Escape($"[{Percent(r.Low - 1)}, {Percent(r.High - 1)}]"), $"{r.MicrosecondsPerToken:+0.0;-0.0}",
                InspectCommand.Size((long)r.Feature.Cost.BytesPerToken), $"{r.Feature.Cost.FlopsPerToken:N0}", r.HasTarget ? $"≤ {r.Feature.Target * 100:0.#} %" : "–", r.HasTarget ? (r.Met ? "yes" : "no") : "–");
        return table;
    }

    /// <summary>
    /// Peak resident memory, and on Linux how the resident pages split now: file-backed pages are the mapped weights
    /// (never copied), anonymous ones everything the process allocated (KV caches, activations, packed panels).
    /// </summary>
    private static string ResidentMemory(long weightBytes, int sequences, int tokens)
    {
        using var self = Process.GetCurrentProcess();
        string text = $"peak resident memory {InspectCommand.Size(self.PeakWorkingSet64)} (weights {InspectCommand.Size(weightBytes)} in the model files; KV caches for {sequences} × {tokens} tokens)";
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return text;
        var fields = File.ReadLines(status).Select(l => l.Split(':', 2)).Where(f => f.Length == 2)
            .ToDictionary(f => f[0], f => f[1].Trim().Split(' ')[0]);
        return fields.TryGetValue("RssFile", out var file) && fields.TryGetValue("RssAnon", out var anonymous)
            && long.TryParse(file, out long fileKb) && long.TryParse(anonymous, out long anonymousKb)
            ? $"{text}; resident now: {InspectCommand.Size(fileKb << 10)} file-backed (mapped weights and code), {InspectCommand.Size(anonymousKb << 10)} allocated"
            : text;
    }

    private static string Percent(double fraction) => $"{fraction * 100:+0.00;-0.00} %";

    /// <summary>Tokens/s of prefill and decode over the repetitions (after one warm-up), with the given forward options.</summary>
    private static (List<double> Prefill, List<double> Decode) Measure(Transformer m, ForwardOptions options, int p, int g, int b, int reps)
    {
        var random = new Random(1234);
        var prefill = new List<double>();
        var decode = new List<double>();
        for (int rep = 0; rep <= reps; rep++)
        {
            var prompts = Enumerable.Range(0, b).Select(_ => Enumerable.Range(0, p).Select(_ => random.Next(m.VocabSize)).ToArray()).ToArray();
            var sequences = prompts.Select(_ => m.NewSequence(p + g)).ToArray();
            var clock = Stopwatch.StartNew();
            m.Forward(sequences, prompts, options);
            double prefillSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            for (int step = 0; step < g; step++)
                m.Forward(sequences, sequences.Select(_ => new[] { random.Next(m.VocabSize) }).ToArray(), options);
            double decodeSeconds = clock.Elapsed.TotalSeconds;
            if (rep == 0) continue; // warm-up
            prefill.Add(b * p / prefillSeconds);
            if (g > 0) decode.Add(b * g / decodeSeconds);
        }
        return (prefill, decode);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
