using System.CommandLine;
using System.Globalization;
using NativeLayers.Analysis.Evaluation;
using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl steer sweep`: generations and next-token KL / entropy across steering coefficients.</summary>
public static class SteerCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var vector = new Option<string>("--vector") { Description = "Vector file (.safetensors with layer.{l}, or .gguf control vector).", Required = true };
        var layers = new Option<string>("--layers") { Description = "Blocks to steer: one layer, a range A-B or a list; each uses its own layer.{l} vector.", Required = true };
        var coefficients = new Option<string>("--coefficients") { Description = "Comma-separated coefficients.", DefaultValueFactory = _ => "-8,-4,-2,0,2,4,8" };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text." };
        var prompts = new Option<string?>("--prompts") { Description = "Prompt file (JSONL or one prompt a line); KL and entropy are averaged over it." };
        var promptFile = new Option<string?>("--prompt-file") { Description = "A file whose whole text (UTF-8) is the one prompt; for long inputs." };
        var encodingErrors = CommonOptions.EncodingErrors();
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Tokens to generate per coefficient (greedy).", DefaultValueFactory = _ => 32 }.AtLeast(0);

        var sweep = new Command("sweep", "For each coefficient: a greedy generation, and KL(base ‖ steered) and entropy of the next-token distribution after the prompt.")
            { model, threads, device, vector, layers, coefficients, prompt, promptFile, prompts, encodingErrors, maxTokens };
        sweep.SetAction(parse =>
        {
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            if (!m.HasTokenizer) throw new NativeLayersException($"{m.Folder.Directory} has no tokenizer; steer sweep needs text prompts.");
            var selected = CommonOptions.Layers(parse.GetValue(layers)!, m.Layers, "--layers");
            var coefficientList = ParseCoefficients(parse.GetValue(coefficients)!);
            var texts = (parse.GetValue(prompt), parse.GetValue(promptFile), parse.GetValue(prompts)) switch
            {
                ({ } one, null, null) => [one],
                (null, { } whole, null) => [TextFiles.ReadAll(whole, "--prompt-file", parse.GetValue(encodingErrors))],
                (null, null, { } file) => PromptFile.Read(file, parse.GetValue(encodingErrors)),
                _ => throw new NativeLayersException("give exactly one of --prompt TEXT, --prompt-file FILE or --prompts FILE."),
            };
            var ids = texts.Select(t => m.Tokenizer.Encode(t)).ToArray();
            var set = SteeringVectorSet.Load(parse.GetValue(vector)!);
            foreach (int l in selected)
                if (!set.Contains(l)) throw new NativeLayersException($"{parse.GetValue(vector)} has no vector for layer {l} (it has layers {string.Join(", ", set.Layers)}).");

            var baseLogits = m.Forward(ids, LogitsMode.LastPerSequence);
            var generator = new Generator(m);
            var table = new Table().Border(TableBorder.Rounded)
                .Title($"steering layers {string.Join(",", selected)} with {Markup.Escape(Path.GetFileName(parse.GetValue(vector)!))}, {texts.Count} prompt(s)")
                .AddColumns("coefficient", "KL(base‖steered) nats", "entropy bits", "top next token", $"greedy continuation of prompt 1 ({parse.GetValue(maxTokens)} tokens)");
            foreach (float c in coefficientList)
            {
                var plan = new SteeringPlan();
                foreach (int l in selected) plan.AddVector(l, set[l].ToArray(), c);
                var steered = m.Forward(ids, new ForwardOptions { Logits = LogitsMode.LastPerSequence, Steering = plan });
                var kl = new List<double>();
                var entropy = new List<double>();
                for (int s = 0; s < ids.Length; s++)
                {
                    kl.Add(NextTokenDivergence.KlDivergence(baseLogits.LastLogits(s), steered.LastLogits(s)));
                    entropy.Add(NextTokenDivergence.EntropyBits(steered.LastLogits(s)));
                }
                int top = NativeLayers.Backends.Cpu.Sampling.Argmax(steered.LastLogits(0));
                var output = generator.Generate([ids[0]], new GenerationOptions { MaxNewTokens = parse.GetValue(maxTokens), Steering = plan })[0];
                var klStats = SummaryStatistics.Of(kl);
                var hStats = SummaryStatistics.Of(entropy);
                table.AddRow(c.ToString("0.###", CultureInfo.InvariantCulture),
                    ids.Length > 1 ? $"{klStats.Mean:F4} ± {Math.Sqrt(klStats.Variance):F4}" : $"{klStats.Mean:F4}",
                    ids.Length > 1 ? $"{hStats.Mean:F3} ± {Math.Sqrt(hStats.Variance):F3}" : $"{hStats.Mean:F3}",
                    Markup.Escape(m.Tokenizer.TokenText(top)),
                    Markup.Escape(m.Tokenizer.DecodeContinuation(ids[0], output.NewIds).ReplaceLineEndings(" ")));
            }
            CliApp.Console(parse.InvocationConfiguration.Output).Write(table);
            return 0;
        });
        var command = new Command("steer", "Steering experiments.");
        command.Subcommands.Add(sweep);
        command.Subcommands.Add(ConditionSearchCommand.Build());
        return command;
    }

    private static float[] ParseCoefficients(string text)
    {
        var values = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out float c) && float.IsFinite(c)
                ? c : throw new NativeLayersException($"--coefficients: '{p}' is not a number.")).ToArray();
        return values.Length > 0 ? values : throw new NativeLayersException("--coefficients is empty.");
    }
}
