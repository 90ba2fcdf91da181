using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NativeLayers.Analysis.Saes;
using NativeLayers.Loading;
using NativeLayers.Runtime.Capture;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl sae info|encode|evaluate`: sparse autoencoders (SAELens, Gemma Scope, sparsify) on a model's hook points.</summary>
public static class SaeCommand
{
    private static Option<string> SaeOption() => new("--sae")
    {
        Description = "The SAE: a SAELens folder (cfg.json + sae_weights.safetensors), a sparsify folder (cfg.json + sae.safetensors) or a " +
            "Gemma Scope params.npz; append @HOOK (e.g. @blocks.12.hook_resid_post) to name or override the point it reads.",
        HelpName = "DIR[@HOOK]",
        Required = true,
    };

    public static Command Build()
    {
        var command = new Command("sae", "Sparse autoencoders on the residual stream: describe, encode prompts, evaluate on a prompt set.");
        command.Subcommands.Add(Info());
        command.Subcommands.Add(Encode());
        command.Subcommands.Add(Evaluate());
        command.Subcommands.Add(TopContexts());
        return command;
    }

    private static Command Info()
    {
        var sae = SaeOption();
        var command = new Command("info", "The SAE's format, architecture, sizes, hook point and input normalisation.") { sae };
        command.SetAction(parse =>
        {
            var s = SaeFiles.Load(parse.GetValue(sae)!);
            var table = new Table().Border(TableBorder.Rounded).AddColumn("property").AddColumn("value");
            void Row(string k, string v) => table.AddRow(Markup.Escape(k), Markup.Escape(v));
            Row("source", s.Source);
            Row("format", s.Header.Format);
            Row("architecture", s.Architecture.ToString().ToLowerInvariant() + (s.Architecture == SaeArchitecture.TopK ? $" (k = {s.K})" : ""));
            Row("hook", s.HookName);
            Row("d_in / d_sae", $"{s.InputWidth} / {s.Features} ({(double)s.Features / s.InputWidth:G3}× expansion)");
            Row("input", $"normalisation {s.Header.Normalization}, b_dec {(s.Header.SubtractDecoderBiasFromInput ? "subtracted first" : "not subtracted")}");
            CliApp.Console(parse.InvocationConfiguration.Output).Write(table);
            return 0;
        });
        return command;
    }

    private static Command Encode()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var sae = SaeOption();
        var prompt = new PromptOptions();
        var dense = new Option<bool>("--dense") { Description = "Write every feature's activation (feature_acts [tokens, d_sae]); otherwise the top --top features per token." };
        var top = new Option<int>("--top") { Description = "Features kept per token without --dense (top_indices, top_values).", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var output = new Option<string>("--out", "-o") { Description = "safetensors file: feature_acts (or top_indices + top_values), sae_in and reconstruction.", Required = true };
        var command = new Command("encode", "Run a prompt, read the SAE's hook point, and write its feature activations and reconstruction.")
            { model, threads, device, sae, dense, top, output };
        foreach (var option in prompt.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string outPath = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".safetensors");
            var s = SaeFiles.Load(parse.GetValue(sae)!);
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var hook = SaeEvaluation.HookOf(m, s);
            var tokens = prompt.Read(parse, m);
            var (x, _) = SaeEvaluation.HookRows(m, hook, tokens);
            var encoding = s.Encode(x);
            var reconstruction = s.Decode(encoding);
            long n = tokens.Length;
            var tensors = new List<TensorData>();
            if (parse.GetValue(dense)) tensors.Add(TensorData.FromFloats("feature_acts", [n, s.Features], encoding.Features));
            else tensors.AddRange(TopFeatures(encoding.Features, tokens.Length, s.Features, Math.Min(parse.GetValue(top), s.Features)));
            tensors.Add(TensorData.FromFloats("sae_in", [n, s.InputWidth], x));
            tensors.Add(TensorData.FromFloats("reconstruction", [n, s.InputWidth], reconstruction));
            SafetensorsWriter.Write(outPath, tensors, new Dictionary<string, string> { ["sae"] = s.Description, ["hook"] = hook.Name });
            double l0 = encoding.Features.Count(v => v != 0) / (double)n;
            CliApp.Console(parse.InvocationConfiguration.Output).MarkupLine(
                $"{Markup.Escape(s.Description)}: {n} tokens, L0 {l0:F1} → {Markup.Escape(outPath)}");
            return 0;
        });
        return command;
    }

    /// <summary>Per token the k largest activations, highest first: top_indices (I64 as safetensors holds ids) and top_values.</summary>
    private static IEnumerable<TensorData> TopFeatures(float[] features, int tokens, int width, int k)
    {
        var indices = new long[tokens * k];
        var values = new float[tokens * k];
        for (int t = 0; t < tokens; t++)
        {
            var best = Enumerable.Range(0, width).OrderByDescending(f => features[t * width + f]).ThenBy(f => f).Take(k).ToArray();
            for (int j = 0; j < k; j++)
            {
                indices[t * k + j] = best[j];
                values[t * k + j] = features[t * width + best[j]];
            }
        }
        yield return TensorData.FromInt64("top_indices", [tokens, k], indices);
        yield return TensorData.FromFloats("top_values", [tokens, k], values);
    }

    private static Command Evaluate()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var sae = SaeOption();
        var prompts = new Option<string>("--prompts", "-p") { Description = "Prompts: plain text, one a line, or JSONL ({\"text\": ...} per line).", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var output = new Option<string?>("--out", "-o") { Description = "JSON file with every figure." };
        var command = new Command("evaluate", "L0, fraction of variance unexplained, reconstruction cosine, next-token loss clean / spliced / zero-ablated " +
            "(and the loss recovered), dead and dense features, over a prompt set.") { model, threads, device, sae, prompts, encodingErrors, output };
        command.SetAction(parse =>
        {
            string? outPath = parse.GetValue(output) is { } o ? CommonOptions.OutputFile(o, "--out", ".json") : null;
            var s = SaeFiles.Load(parse.GetValue(sae)!);
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var texts = PromptFile.Read(parse.GetValue(prompts)!, parse.GetValue(encodingErrors));
            var ids = texts.Select(t => CommonOptions.PromptIds(m, t, null)).ToList();
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var result = ProgressBar.Run(console, "prompts", progress => SaeEvaluation.Run(m, s, ids, progress));
            var r = result;
            if (outPath != null)
            {
                using var files = new StagedFiles();
                files.Stage(outPath, ToJson(r, s));
                files.Commit();
            }
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(s.Description)).AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
            void Row(string k, string v) => table.AddRow(Markup.Escape(k), v);
            Row("L0 (features per token)", r.L0.ToString("F2", CultureInfo.InvariantCulture));
            Row("fraction of variance unexplained", r.Fvu.ToString("F4", CultureInfo.InvariantCulture));
            Row("cosine(x, reconstruction)", r.Cosine.ToString("F4", CultureInfo.InvariantCulture));
            Row("CE loss clean / spliced / zero-ablated", string.Join(" / ", new[] { r.CeLossClean, r.CeLossSpliced, r.CeLossZeroAblated }.Select(v => v.ToString("F4", CultureInfo.InvariantCulture))));
            Row("CE loss recovered", r.CeLossRecovered.ToString("F4", CultureInfo.InvariantCulture));
            Row($"dead / dense (> {SaeEvaluation.DenseFrequency:P0} of tokens) features", $"{r.DeadFeatures} / {r.DenseFeatures} of {s.Features}");
            Row("prompts / tokens", $"{r.Prompts} / {r.Tokens}");
            console.Write(table);
            if (outPath != null) console.MarkupLine($"wrote {Markup.Escape(outPath)}");
            return 0;
        });
        return command;
    }

    private static Command TopContexts()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var sae = SaeOption();
        var prompts = new Option<string>("--prompts", "-p") { Description = "Prompts: plain text, one a line, or JSONL ({\"text\": ...} per line).", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var top = new Option<int>("--top") { Description = "Examples kept per feature.", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var window = new Option<int>("--window") { Description = "Tokens of context shown on each side of an example.", DefaultValueFactory = _ => 8 }.AtLeast(0);
        var output = new Option<string>("--out", "-o") { Description = "JSON: per feature its firings, density, max and top examples with their context.", Required = true };
        var command = new Command("top-contexts", "Every feature's highest-activating tokens over a prompt set, with their context (the data behind a feature dashboard); bounded memory.")
            { model, threads, device, sae, prompts, encodingErrors, top, window, output };
        command.SetAction(parse =>
        {
            string outPath = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".json");
            var s = SaeFiles.Load(parse.GetValue(sae)!);
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var texts = PromptFile.Read(parse.GetValue(prompts)!, parse.GetValue(encodingErrors));
            var ids = texts.Select(t => CommonOptions.PromptIds(m, t, null)).ToList();
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var r = ProgressBar.Run(console, "prompts", progress => SaeTopContexts.Run(m, s, ids, parse.GetValue(top), progress));
            using (var files = new StagedFiles())
            {
                files.Stage(outPath, TopContextsJson(r, ids, m, parse.GetValue(window)));
                files.Commit();
            }
            int alive = r.Features.Count(f => f.Firings > 0);
            console.MarkupLine($"{Markup.Escape(s.Description)}: {r.Prompts} prompts, {r.Tokens} tokens; {alive} of {s.Features} features fired → {Markup.Escape(outPath)}");
            return 0;
        });
        return command;
    }

    private static byte[] TopContextsJson(TopContextsResult r, IReadOnlyList<int[]> prompts, Runtime.Transformer model, int window)
    {
        string Text(int[] ids, int from, int to) => model.HasTokenizer ? model.Tokenizer.Decode(ids[from..to]) : string.Join(",", ids[from..to]);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WriteNumber("tokens", r.Tokens);
            w.WriteNumber("prompts", r.Prompts);
            w.WriteStartArray("features");
            foreach (var f in r.Features)
            {
                w.WriteStartObject();
                w.WriteNumber("feature", f.Feature);
                w.WriteNumber("firings", f.Firings);
                w.WriteNumber("density", (double)f.Firings / r.Tokens);
                w.WriteNumber("max", f.Max);
                w.WriteStartArray("examples");
                foreach (var e in f.Examples)
                {
                    var ids = prompts[e.Prompt];
                    w.WriteStartObject();
                    w.WriteNumber("prompt", e.Prompt);
                    w.WriteNumber("position", e.Position);
                    w.WriteNumber("value", e.Value);
                    w.WriteString("token", model.HasTokenizer ? model.Tokenizer.TokenText(ids[e.Position]) : $"#{ids[e.Position]}");
                    w.WriteString("before", Text(ids, Math.Max(0, e.Position - window), e.Position));
                    w.WriteString("after", Text(ids, e.Position + 1, Math.Min(ids.Length, e.Position + 1 + window)));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static byte[] ToJson(SaeEvaluationResult r, SparseAutoencoder sae)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("l0", r.L0);
            w.WriteNumber("fvu", r.Fvu);
            w.WriteNumber("cosine", r.Cosine);
            w.WriteNumber("ce_loss_clean", r.CeLossClean);
            w.WriteNumber("ce_loss_spliced", r.CeLossSpliced);
            w.WriteNumber("ce_loss_zero_ablated", r.CeLossZeroAblated);
            w.WriteNumber("ce_loss_recovered", r.CeLossRecovered);
            w.WriteNumber("dead_features", r.DeadFeatures);
            w.WriteNumber("dense_features", r.DenseFeatures);
            w.WriteNumber("tokens", r.Tokens);
            w.WriteNumber("prompts", r.Prompts);
            w.WriteString("sae", sae.Description);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}
