using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Generation;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl generate`: continue a prompt, optionally showing the residual stream layer by layer.</summary>
public static class GenerateCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var prompt = new PromptOptions();
        var promptFile = new Option<string?>("--prompts") { Description = "Several prompts (JSONL or one a line), generated together in one batch." };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Most new tokens to generate.", DefaultValueFactory = _ => 64 }.AtLeast(0);
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 = greedy.", DefaultValueFactory = _ => 0f }.AtLeast(0f);
        var topK = new Option<int>("--top-k") { Description = "Sample from the k most probable tokens (0 = all).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var topP = new Option<float>("--top-p") { Description = "Sample from the smallest set reaching probability p (1 = all).", DefaultValueFactory = _ => 1f }.Requiring(p => p > 0 && p <= 1, "in (0, 1]");
        var seed = new Option<int>("--seed") { Description = "Random seed for sampling.", DefaultValueFactory = _ => 0 };
        var steer = SteerOption.Create();
        var condition = new ConditionOptions();
        var sae = new SaeOptions();
        var showLayers = new Option<bool>("--show-layers") { Description = "Also show the residual-stream norm at every layer for the prompt's last token." };

        var command = new Command("generate", "Continue a prompt (greedy or sampled) and print the text.")
            { model, threads, device, promptFile, maxTokens, temperature, topK, topP, seed, steer, showLayers };
        foreach (var option in prompt.All.Concat(condition.All).Concat(sae.All)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxTokens),
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                Seed = parse.GetValue(seed),
                Steering = sae.AddTo(parse, m, SteerOption.Parse(parse.GetValue(steer), m)),
                AllowContextOverflow = parse.GetValue(prompt.AllowOverflowContext),
            };
            if (parse.GetValue(promptFile) is { } file)
            {
                if (parse.GetValue(prompt.Prompt) != null || parse.GetValue(prompt.Ids) != null || parse.GetValue(prompt.PromptFile) != null)
                    throw new Loading.NativeLayersException("give --prompts FILE or a single --prompt/--prompt-file/--ids, not both.");
                var texts = Runtime.Capture.PromptFile.Read(file, parse.GetValue(prompt.EncodingErrors));
                if (!m.HasTokenizer) throw new Loading.NativeLayersException($"{m.Folder.Directory} has no tokenizer; --prompts needs text.");
                var batch = texts.Select(t => m.Tokenizer.Encode(t)).ToArray();
                return GenerateBatch(m, texts, batch, Gate(parse, condition, m, batch, options), output, parse.InvocationConfiguration.Error);
            }
            int[] promptIds = prompt.Read(parse, m);
            options = Gate(parse, condition, m, [promptIds], options);
            bool text = m.HasTokenizer;
            if (text) output.Write(m.Tokenizer.Decode(promptIds));
            var generated = new List<int>();
            var clock = Stopwatch.StartNew();
            var result = new Generator(m).Generate([promptIds], options, (_, token) =>
            {
                if (text) output.Write(m.Tokenizer.DecodeContinuation([.. promptIds, .. generated], [token]));
                else output.Write((generated.Count == 0 ? "" : ",") + token);
                generated.Add(token);
                output.Flush();
            })[0];
            clock.Stop();
            output.WriteLine();
            var console = CliApp.Console(parse.InvocationConfiguration.Error);
            console.MarkupLine($"[grey]{result.NewIds.Length} tokens in {clock.Elapsed.TotalSeconds:F2} s " +
                $"({result.NewIds.Length / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F1} tokens/s), stopped by {Describe(result.StopReason)}[/]");
            if (parse.GetValue(showLayers)) LayerNormsView.Show(CliApp.Console(output), m, promptIds);
            return 0;
        });
        return command;
    }

    /// <summary>With --condition: the steering goes only to the prompts whose condition holds (one plan or none per prompt).</summary>
    private static GenerationOptions Gate(ParseResult parse, ConditionOptions options, Transformer m, int[][] prompts, GenerationOptions generation)
    {
        if (options.Read(parse, m, generation.Steering) is not { } condition) return generation;
        var similarities = condition.Similarities(m, prompts);
        var console = CliApp.Console(parse.InvocationConfiguration.Error);
        for (int i = 0; i < prompts.Length; i++)
            console.MarkupLine($"[grey]condition at block {condition.Layer}: prompt {i} similarity {similarities[i]:F4} " +
                $"{(condition.Compare == Analysis.Steering.ConditionComparison.Greater ? ">" : "<")} {condition.Threshold:G4}? " +
                $"{(condition.Holds(similarities[i]) ? "yes: steered" : "no: not steered")}[/]");
        return generation with
        {
            Steering = null,
            PromptSteering = similarities.Select(s => condition.Holds(s) ? generation.Steering : null).ToArray(),
        };
    }

    private static int GenerateBatch(Transformer m, IReadOnlyList<string> texts, int[][] prompts, GenerationOptions options, TextWriter output, TextWriter error)
    {
        var clock = Stopwatch.StartNew();
        var results = new Generator(m).Generate(prompts, options);
        clock.Stop();
        for (int i = 0; i < results.Count; i++)
        {
            output.WriteLine($"[{i + 1}] {m.Tokenizer.Decode(prompts[i])}{m.Tokenizer.DecodeContinuation(prompts[i], results[i].NewIds)}");
            output.WriteLine();
        }
        int total = results.Sum(r => r.NewIds.Length);
        CliApp.Console(error).MarkupLine($"[grey]{results.Count} prompts, {total} tokens in {clock.Elapsed.TotalSeconds:F2} s ({total / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F1} tokens/s)[/]");
        return 0;
    }

    private static string Describe(StopReason reason) => reason == StopReason.EndOfSequence ? "end-of-sequence token" : "--max-tokens";
}
