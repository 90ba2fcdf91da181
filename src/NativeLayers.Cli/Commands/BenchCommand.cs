using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Backends;
using NativeLayers.Runtime.Hooks;
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
        var overheads = new Option<bool>("--overheads") { Description = "Also measure with a steering vector at every layer and with every residual slot copied to host memory." };
        command.Options.Add(overheads);
        command.SetAction(parse =>
        {
            int p = parse.GetValue(promptTokens), g = parse.GetValue(genTokens), b = parse.GetValue(batch), reps = parse.GetValue(repetitions);
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var variants = new List<(string Name, ForwardOptions Options)> { ("", new ForwardOptions { Logits = LogitsMode.LastPerSequence, HostSlots = [] }) };
            if (parse.GetValue(overheads))
            {
                var random = new Random(7);
                var plan = new SteeringPlan();
                for (int l = 0; l < m.Layers; l++)
                    plan.AddVector(l, Enumerable.Range(0, m.Width).Select(_ => (float)(random.NextDouble() - 0.5) * 0.01f).ToArray(), 1f);
                variants.Add((" +steer every layer", variants[0].Options with { Steering = plan }));
                variants.Add((" +all slots to host", variants[0].Options with { HostSlots = null }));
            }
            long weightBytes = m.Folder.Weights.Tensors.Sum(t => t.Info.ByteLength);
            long parameters = m.Folder.Weights.Tensors.Sum(t => t.Info.ElementCount);
            string name = Path.GetFileName(Path.GetFullPath(m.Folder.Directory).TrimEnd('/'));
            var table = new Table().Border(TableBorder.Markdown)
                .AddColumns("model", "size", "params", "device", "threads", "batch", "test", "t/s (median)", "min", "max", "vs plain");
            double plainPrefill = 0, plainDecode = 0;
            foreach (var (suffix, options) in variants)
            {
                var (prefill, decode) = Measure(m, options, p, g, b, reps);
                if (suffix == "") (plainPrefill, plainDecode) = (Median(prefill), decode.Count > 0 ? Median(decode) : 0);
                void Add(string test, List<double> values, double plain) => table.AddRow(Markup.Escape(name), InspectCommand.Size(weightBytes),
                    $"{parameters / 1e6:F1} M", DeviceKinds.Name(m.Device), m.Backend.Threads.ToString(), b.ToString(), test + suffix,
                    $"{Median(values):F1}", $"{values.Min():F1}", $"{values.Max():F1}", suffix == "" ? "" : $"{(plain / Median(values) - 1) * 100:+0.0;-0.0} % time");
                Add($"pp{p}", prefill, plainPrefill);
                if (g > 0) Add($"tg{g}", decode, plainDecode);
            }
            console.Write(table);
            return 0;
        });
        return command;
    }

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
