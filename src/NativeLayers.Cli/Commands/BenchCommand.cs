using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl bench`: prefill and decode throughput on random token ids, like llama-bench (median of repetitions).</summary>
public static class BenchCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length per sequence for the prefill test.", DefaultValueFactory = _ => 128 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens per sequence for the decode test.", DefaultValueFactory = _ => 32 };
        var batch = new Option<int>("--batch", "-b") { Description = "Sequences run together.", DefaultValueFactory = _ => 1 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Timed repetitions (after one warm-up).", DefaultValueFactory = _ => 5 };
        var command = new Command("bench", "Measure prefill and decode tokens/s on random token ids (median of repetitions).")
            { model, threads, promptTokens, genTokens, batch, repetitions };
        command.SetAction(parse =>
        {
            int p = parse.GetValue(promptTokens), g = parse.GetValue(genTokens), b = parse.GetValue(batch), reps = parse.GetValue(repetitions);
            if (p < 1 || g < 0 || b < 1 || reps < 1)
                throw new NativeLayersException("--prompt-tokens, --batch and --repetitions must be ≥ 1 and --gen-tokens ≥ 0.");
            using var m = CommonOptions.LoadModel(parse.GetValue(model)!, parse.GetValue(threads));
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var random = new Random(1234);
            var prefill = new List<double>();
            var decode = new List<double>();
            for (int rep = 0; rep <= reps; rep++)
            {
                var prompts = Enumerable.Range(0, b).Select(_ => Enumerable.Range(0, p).Select(_ => random.Next(m.VocabSize)).ToArray()).ToArray();
                var sequences = prompts.Select(_ => m.NewSequence(p + g)).ToArray();
                var clock = Stopwatch.StartNew();
                m.Forward(sequences, prompts, LogitsMode.LastPerSequence);
                double prefillSeconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                for (int step = 0; step < g; step++)
                    m.Forward(sequences, sequences.Select(_ => new[] { random.Next(m.VocabSize) }).ToArray(), LogitsMode.LastPerSequence);
                double decodeSeconds = clock.Elapsed.TotalSeconds;
                if (rep == 0) continue; // warm-up
                prefill.Add(b * p / prefillSeconds);
                if (g > 0) decode.Add(b * g / decodeSeconds);
            }
            long weightBytes = m.Folder.Weights.Tensors.Sum(t => t.Info.ByteLength);
            var table = new Table().Border(TableBorder.Markdown)
                .AddColumns("model", "size", "params", "threads", "batch", "test", "t/s (median)", "min", "max");
            string name = Path.GetFileName(Path.GetFullPath(m.Folder.Directory).TrimEnd('/'));
            long parameters = m.Folder.Weights.Tensors.Sum(t => t.Info.ElementCount);
            void Add(string test, List<double> values) => table.AddRow(Markup.Escape(name), InspectCommand.Size(weightBytes), $"{parameters / 1e6:F1} M",
                m.Pool.Threads.ToString(), b.ToString(), test, $"{Median(values):F1}", $"{values.Min():F1}", $"{values.Max():F1}");
            Add($"pp{p}", prefill);
            if (g > 0) Add($"tg{g}", decode);
            console.Write(table);
            return 0;
        });
        return command;
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
