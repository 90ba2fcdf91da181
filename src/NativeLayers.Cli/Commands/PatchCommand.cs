using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NativeLayers.Analysis.Patching;
using NativeLayers.Analysis.Plots;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl patch`: activation patching of a clean run into a corrupted one, per point × block × position.</summary>
public static class PatchCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var clean = new Option<string?>("--clean") { Description = "The clean prompt (text)." };
        var corrupted = new Option<string?>("--corrupted") { Description = "The corrupted prompt (text); it must encode to as many tokens as the clean one." };
        var cleanIds = new Option<string?>("--clean-ids") { Description = "The clean prompt as token ids (models without a tokenizer)." };
        var corruptedIds = new Option<string?>("--corrupted-ids") { Description = "The corrupted prompt as token ids." };
        var answer = new Option<string>("--answer") { Description = "The clean run's answer: a token text that encodes to exactly one token, or #ID.", Required = true };
        var wrong = new Option<string>("--wrong") { Description = "The corrupted run's answer: one token's text, or #ID.", Required = true };
        var points = new Option<string>("--points")
        {
            Description = $"Points to patch, comma-separated: {string.Join(", ", ActivationPatching.PatchablePoints.Select(HookId.ShortName))}.",
            DefaultValueFactory = _ => "resid_pre",
        };
        var layers = new Option<string>("--layers") { Description = "Blocks to patch in: all, or a list such as 0-3,-1.", DefaultValueFactory = _ => "all" };
        var positions = new Option<string>("--positions") { Description = "all (every position) or last.", DefaultValueFactory = _ => "all" };
        var output = new Option<string?>("--out", "-o") { Description = "JSON file with every logit difference (un-normalised)." };
        var plot = new Option<string?>("--plot") { Description = "Heatmap per point (.png or .svg) of the normalised effect, block × token; several points get one file each (name.point.png)." };

        var command = new Command("patch", "Activation patching: run the corrupted prompt with one point × block × position taken from the clean run; " +
            "report logit(answer) − logit(wrong) at the last position, normalised as (patched − corrupted) / (clean − corrupted).")
            { model, threads, device, clean, corrupted, cleanIds, corruptedIds, answer, wrong, points, layers, positions, output, plot };
        command.SetAction(parse =>
        {
            string? outPath = parse.GetValue(output) is { } o ? CommonOptions.OutputFile(o, "--out", ".json") : null;
            string? plotPath = CommonOptions.PlotFile(parse.GetValue(plot));
            bool lastOnly = parse.GetValue(positions) switch
            {
                "all" => false,
                "last" => true,
                var other => throw new NativeLayersException($"--positions must be all or last, got '{other}'."),
            };
            var pointList = parse.GetValue(points)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(HookId.ParsePoint).Distinct().ToArray();
            if (pointList.Length == 0) throw new NativeLayersException("--points lists no point.");
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            int[] cleanTokens = Prompt(m, parse.GetValue(clean), parse.GetValue(cleanIds), "--clean");
            int[] corruptedTokens = Prompt(m, parse.GetValue(corrupted), parse.GetValue(corruptedIds), "--corrupted");
            int answerId = SingleToken(m, parse.GetValue(answer)!, "--answer"), wrongId = SingleToken(m, parse.GetValue(wrong)!, "--wrong");
            var options = new PatchingOptions
            {
                Points = pointList,
                Layers = CommonOptions.Layers(parse.GetValue(layers)!, m.Layers, "--layers"),
                LastPositionOnly = lastOnly,
            };
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var r = ProgressBar.Run(console, "patched runs", progress => ActivationPatching.Run(m, cleanTokens, corruptedTokens, answerId, wrongId, options with { Progress = progress }));
            string[] labels = r.Positions.Select(p => $"{p}:{Piece(m, cleanTokens[p])}").ToArray();

            using var files = new StagedFiles();
            if (outPath != null) files.Stage(outPath, ToJson(r, r.Positions.Select(p => Piece(m, cleanTokens[p])).ToArray()));
            if (plotPath != null)
                foreach (var point in r.Points)
                {
                    string path = r.Points.Count == 1 ? plotPath : Path.ChangeExtension(plotPath, $".{HookId.ShortName(point)}{Path.GetExtension(plotPath)}");
                    var grid = r.Patched[point];
                    var normalized = new double[r.Layers.Length, r.Positions.Length];
                    for (int l = 0; l < r.Layers.Length; l++)
                        for (int p = 0; p < r.Positions.Length; p++) normalized[l, p] = r.Normalized(grid[l, p]);
                    files.Stage(path, LayerPlots.Heatmap(LayerPlots.FormatOf(path), $"patching {HookId.ShortName(point)}: (patched − corrupted) / (clean − corrupted)",
                        "token", "block", normalized, labels, r.Layers.Select(l => l.ToString(CultureInfo.InvariantCulture)).ToArray(),
                        HeatmapScale.Signed("normalised logit difference")));
                }
            files.Commit();

            console.MarkupLine($"logit({Markup.Escape(Piece(m, answerId))}) − logit({Markup.Escape(Piece(m, wrongId))}): clean {r.CleanLogitDiff:F4}, corrupted {r.CorruptedLogitDiff:F4}");
            foreach (var point in r.Points)
            {
                var table = new Table().Border(TableBorder.Rounded).Title($"{HookId.ShortName(point)}: normalised effect, token × block").AddColumn("token");
                foreach (int layer in r.Layers) table.AddColumn(new TableColumn(layer.ToString(CultureInfo.InvariantCulture)).RightAligned());
                for (int p = 0; p < r.Positions.Length; p++)
                    table.AddRow([Markup.Escape(labels[p]), .. Enumerable.Range(0, r.Layers.Length)
                        .Select(l => r.Normalized(r.Patched[point][l, p]).ToString("F3", CultureInfo.InvariantCulture))]);
                console.Write(table);
            }
            if (outPath != null) console.MarkupLine($"wrote {Markup.Escape(outPath)}");
            return 0;
        });
        return command;
    }

    private static int[] Prompt(Transformer model, string? text, string? ids, string option)
    {
        if ((text == null) == (ids == null))
            throw new NativeLayersException($"give exactly one of {option} TEXT or {option}-ids 1,2,3.");
        return ids != null ? CommonOptions.ParseIds(ids, option + "-ids") : CommonOptions.PromptIds(model, text, null);
    }

    /// <summary>A token given as #ID, or as text that encodes to exactly one token (with or without a leading space).</summary>
    private static int SingleToken(Transformer model, string text, string option)
    {
        if (text.StartsWith('#') && int.TryParse(text[1..], NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            return (uint)id < (uint)model.VocabSize ? id : throw new NativeLayersException($"{option} {text} is outside the vocabulary (0..{model.VocabSize - 1}).");
        if (!model.HasTokenizer) throw new NativeLayersException($"this model has no tokenizer; give {option} as #ID.");
        foreach (var candidate in new[] { text, " " + text })
            if (model.Tokenizer.Encode(candidate, addSpecialTokens: false) is [var single]) return single;
        var pieces = model.Tokenizer.Encode(text, addSpecialTokens: false);
        throw new NativeLayersException($"{option} '{text}' is {pieces.Length} tokens ({string.Join(" ", pieces.Select(model.Tokenizer.TokenText))}), with or without a leading space; " +
            "give a text that is one token, or #ID.");
    }

    private static string Piece(Transformer model, int id) => model.HasTokenizer ? model.Tokenizer.TokenText(id) : $"#{id}";

    private static byte[] ToJson(PatchingResult r, string[] tokens)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("points");
            foreach (var p in r.Points) w.WriteStringValue(HookId.ShortName(p));
            w.WriteEndArray();
            w.WriteStartArray("layers");
            foreach (var l in r.Layers) w.WriteNumberValue(l);
            w.WriteEndArray();
            w.WriteStartArray("positions");
            foreach (var p in r.Positions) w.WriteNumberValue(p);
            w.WriteEndArray();
            w.WriteStartArray("tokens");
            foreach (var t in tokens) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteNumber("clean_logit_diff", r.CleanLogitDiff);
            w.WriteNumber("corrupted_logit_diff", r.CorruptedLogitDiff);
            w.WriteStartObject("patched");
            foreach (var p in r.Points)
            {
                w.WriteStartArray(HookId.ShortName(p));
                var grid = r.Patched[p];
                for (int l = 0; l < r.Layers.Length; l++)
                {
                    w.WriteStartArray();
                    for (int i = 0; i < r.Positions.Length; i++) w.WriteNumberValue(grid[l, i]);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}
