using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NativeLayers.Analysis.Probes;
using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl steer condition-search`: the layer and threshold at which a CAST condition best separates labelled prompts.</summary>
public static class ConditionSearchCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var vectors = new Option<string>("--condition") { Description = "Condition vectors (layer.L tensors, e.g. from nl vector extract).", Required = true, HelpName = "FILE" };
        var data = new Option<string>("--data") { Description = "Held-out labelled prompts: JSONL with \"text\" and \"label\" per line.", Required = true };
        var positive = new Option<string>("--positive") { Description = "The label of prompts the condition should hold for; every other label should not.", Required = true };
        var layers = new Option<string?>("--layers") { Description = "Blocks to try (default: every layer the file has), e.g. 1-3." };
        var reduce = new Option<string>("--condition-reduce") { Description = "mean (of the prompt's tokens) or last.", DefaultValueFactory = _ => "mean" };
        var encodingErrors = CommonOptions.EncodingErrors();
        var output = new Option<string?>("--out", "-o") { Description = "JSON with every layer's best threshold, confusion matrix and the similarities." };
        var command = new Command("condition-search", "CAST: for each layer, the threshold and direction that best separate labelled prompts (F1, then accuracy), with the confusion matrix.")
            { model, threads, device, vectors, data, positive, layers, reduce, encodingErrors, output };
        command.SetAction(parse =>
        {
            string? outPath = parse.GetValue(output) is { } o ? CommonOptions.OutputFile(o, "--out", ".json") : null;
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var set = SteeringVectorSet.Load(parse.GetValue(vectors)!);
            if (set.Width != m.Width) throw new ModelFileException(parse.GetValue(vectors)!, $"vectors have width {set.Width}, but the model's width is {m.Width}.");
            var rows = ProbeData.Read(parse.GetValue(data)!, parse.GetValue(encodingErrors));
            string label = parse.GetValue(positive)!;
            if (!rows.Any(r => r.Label == label))
                throw new NativeLayersException($"no prompt in {parse.GetValue(data)} has the label '{label}' (labels: {string.Join(", ", rows.Select(r => r.Label).Distinct())}).");
            int[] tried = parse.GetValue(layers) is { } text ? CommonOptions.Layers(text, m.Layers, "--layers") : [.. set.Layers.Order()];
            var prompts = rows.Select(r => CommonOptions.PromptIds(m, r.Text, null)).ToList();
            var result = ConditionSearch.Run(m, set, prompts, rows.Select(r => r.Label == label).ToList(), tried,
                ConditionOptions.ParseReduction(parse.GetValue(reduce)!, "--condition-reduce"));

            if (outPath != null)
            {
                using var files = new StagedFiles();
                files.Stage(outPath, ToJson(result));
                files.Commit();
            }
            var table = new Table().Border(TableBorder.Rounded).Title($"condition '{Markup.Escape(label)}' on {rows.Count} prompts")
                .AddColumns("block", "steer when", "TP", "FP", "TN", "FN", "accuracy", "F1");
            foreach (var c in result.PerLayer)
                table.AddRow((c == result.Best ? "[bold]" + c.Layer + "[/]" : c.Layer.ToString(CultureInfo.InvariantCulture)),
                    $"similarity {(c.Compare == ConditionComparison.Greater ? ">" : "<")} {c.Threshold.ToString("F4", CultureInfo.InvariantCulture)}",
                    $"{c.TruePositives}", $"{c.FalsePositives}", $"{c.TrueNegatives}", $"{c.FalseNegatives}",
                    c.Accuracy.ToString("F3", CultureInfo.InvariantCulture), c.F1.ToString("F3", CultureInfo.InvariantCulture));
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            console.Write(table);
            var best = result.Best;
            console.MarkupLine($"best: --condition {Markup.Escape(parse.GetValue(vectors)!)}@{best.Layer} --threshold {best.Threshold.ToString("G6", CultureInfo.InvariantCulture)} " +
                $"--condition-compare {(best.Compare == ConditionComparison.Greater ? "greater" : "less")}");
            return 0;
        });
        return command;
    }

    private static byte[] ToJson(ConditionSearchResult result)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("layers");
            foreach (var c in result.PerLayer)
            {
                w.WriteStartObject();
                w.WriteNumber("layer", c.Layer);
                w.WriteString("compare", c.Compare == ConditionComparison.Greater ? "greater" : "less");
                w.WriteNumber("threshold", c.Threshold);
                w.WriteNumber("true_positives", c.TruePositives);
                w.WriteNumber("false_positives", c.FalsePositives);
                w.WriteNumber("true_negatives", c.TrueNegatives);
                w.WriteNumber("false_negatives", c.FalseNegatives);
                w.WriteNumber("accuracy", c.Accuracy);
                w.WriteNumber("f1", c.F1);
                w.WriteStartArray("similarities");
                foreach (var s in result.Similarities[c.Layer]) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("best_layer", result.Best.Layer);
            w.WriteNumber("best_threshold", result.Best.Threshold);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}
