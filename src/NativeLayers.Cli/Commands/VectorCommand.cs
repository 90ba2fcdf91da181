using System.CommandLine;
using NativeLayers.Analysis.Steering;
using NativeLayers.Analysis.Vectors;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl vector extract`: steering vectors per layer from contrastive pairs, with held-out separation scores.</summary>
public static class VectorCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var pairs = new Option<string>("--pairs") { Description = "JSONL with one {\"positive\": ..., \"negative\": ...} object a line.", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var method = new Option<string>("--method") { Description = "mean (MeanDiff), mean-unit, pca (centred PCA of paired differences, repeng's pca_diff), pca-uncentered, repe, reading.", DefaultValueFactory = _ => "mean" };
        var layers = new Option<string>("--layers") { Description = "Blocks to extract for: all, or a list of layers and ranges (0-3,-1).", DefaultValueFactory = _ => "all" };
        var position = new Option<string>("--position") { Description = "last (last token) or mean (mean over the prompt's tokens).", DefaultValueFactory = _ => "last" };
        var holdout = new Option<double>("--holdout") { Description = "Fraction of pairs held out to score each layer's vector.", DefaultValueFactory = _ => 0.2 }.Requiring(h => h >= 0 && h < 1, "in [0, 1)");
        var output = new Option<string>("--out", "-o") { Description = "Output file: .safetensors (layer.{l} tensors) or .gguf (llama.cpp control vector).", Required = true };

        var extract = new Command("extract", "Extract a steering vector per layer from contrastive prompt pairs.")
            { model, threads, device, pairs, encodingErrors, method, layers, position, holdout, output };
        extract.SetAction(parse =>
        {
            string path = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".safetensors", ".gguf");
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var options = new ContrastiveExtractionOptions
            {
                Method = ParseMethod(parse.GetValue(method)!),
                Rows = parse.GetValue(position) switch
                {
                    "last" => TokenRows.LastToken,
                    "mean" => TokenRows.MeanOfTokens,
                    var p => throw new NativeLayersException($"--position must be last or mean, got '{p}'."),
                },
                Layers = CommonOptions.Layers(parse.GetValue(layers)!, m.Layers, "--layers"),
                HeldOutFraction = parse.GetValue(holdout),
            };
            var pairList = ContrastivePairs.Read(parse.GetValue(pairs)!, parse.GetValue(encodingErrors));
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var (vectors, results) = ContrastiveExtraction.Run(m, pairList, options);
            var warnings = path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)
                ? GgufControlVectorFile.Write(path, vectors)
                : Write(path, vectors);

            var table = new Table().Border(TableBorder.Rounded).Title($"{options.Method} vectors from {pairList.Count} pairs ({options.Rows} token)")
                .AddColumns("layer", "norm", "train ordered", "held-out ordered", "held-out gap", "Cohen's d");
            foreach (var r in results)
                table.AddRow(r.Layer.ToString(), $"{r.Vector.Norm:F3}", $"{r.Train.FractionCorrect:P0}",
                    r.HeldOut is { } ho ? $"{ho.FractionCorrect:P0} of {ho.Pairs}" : "-", r.HeldOut is { } g ? $"{g.MeanGap:F3}" : "-",
                    r.HeldOut is { } d ? $"{d.CohensD:F2}" : "-");
            console.Write(table);
            var best = results.Where(r => r.HeldOut != null).OrderByDescending(r => r.HeldOut!.Value.CohensD).FirstOrDefault();
            if (best != null) console.MarkupLine($"best held-out separation: layer {best.Layer} (Cohen's d {best.HeldOut!.Value.CohensD:F2})");
            foreach (var w in warnings) console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(w)}");
            console.MarkupLine($"wrote {Markup.Escape(path)} ({vectors.Count} layers, width {vectors.Width}); apply with --steer {Markup.Escape(path)}@LAYER*COEFFICIENT");
            return 0;
        });
        var command = new Command("vector", "Steering vectors: extraction from contrastive pairs.");
        command.Subcommands.Add(extract);
        return command;
    }

    private static IReadOnlyList<string> Write(string path, SteeringVectorSet vectors)
    {
        SafetensorsSteeringFile.Write(path, vectors);
        return [];
    }

    public static SteeringMethod ParseMethod(string text) => text switch
    {
        "mean" => SteeringMethod.MeanDiff,
        "mean-unit" => SteeringMethod.MeanDiffUnit,
        "pca" => SteeringMethod.PcaDiffCentered,
        "pca-uncentered" => SteeringMethod.PcaDiffUncentered,
        "repe" => SteeringMethod.RepEReading,
        "reading" => SteeringMethod.Reading,
        _ => throw new NativeLayersException($"--method must be mean, mean-unit, pca, pca-uncentered, repe or reading, got '{text}'."),
    };
}
