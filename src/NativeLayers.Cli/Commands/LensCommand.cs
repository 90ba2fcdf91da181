using System.CommandLine;
using NativeLayers.Analysis.Lens;
using NativeLayers.Analysis.Plots;
using NativeLayers.Loading;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl lens`: the logit lens — every residual slot decoded through the final norm and unembedding.</summary>
public static class LensCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var prompt = new PromptOptions();
        var target = new Option<string?>("--target") { Description = "Token to track: its text (must encode to one token; a leading space is tried too) or #ID." };
        var topK = new Option<int>("--top-k", "-k") { Description = "Tokens listed per slot.", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var slots = new Option<string>("--slots") { Description = "Residual slots to decode (0 = embeddings, l + 1 = after block l, … L): all, or a list such as 0-3,-1.", DefaultValueFactory = _ => "all" };
        var position = new Option<int>("--position") { Description = "Token position to read (negative from the end).", DefaultValueFactory = _ => -1 };
        var output = new Option<string?>("--out", "-o") { Description = "JSON file with every reading (a .csv beside it lists them)." };
        var plot = new Option<string?>("--plot") { Description = "Per-slot curves (.png or .svg): KL to the final distribution, entropy, and the target's probability." };

        var command = new Command("lens", "Logit lens: decode each residual slot through the final norm and head; top tokens, target rank/probability, KL to the output.")
            { model, threads, device, target, topK, slots, position, output, plot };
        foreach (var option in prompt.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string? outPath = parse.GetValue(output) is { } o ? CommonOptions.OutputFile(o, "--out", ".json") : null;
            string? csv = outPath != null ? CommonOptions.CsvBeside(outPath) : null;
            string? plotPath = CommonOptions.PlotFile(parse.GetValue(plot));
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var tokens = prompt.Read(parse, m);
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            int? targetId = null;
            if (parse.GetValue(target) is { } t)
            {
                var (id, note) = ResolveTarget(m, t);
                targetId = id;
                if (note != null) console.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
            }
            var report = LogitLens.Run(m, tokens, new LensOptions
            {
                Slots = CommonOptions.Slots(parse.GetValue(slots)!, m.Layers, "--slots"),
                Positions = [CommonOptions.Index(parse.GetValue(position), tokens.Length, "--position", "prompt tokens")],
                TopK = parse.GetValue(topK),
                Target = targetId,
                Forward = prompt.Forward(parse),
            });
            int pos = report.Positions[0];
            string Piece(int id) => m.HasTokenizer ? m.Tokenizer.TokenText(id) : $"#{id}";
            var table = new Table().Border(TableBorder.Rounded)
                .Title($"logit lens at position {pos} (token {Markup.Escape(Piece(tokens[pos]))}){(targetId is int tid ? $", target {Markup.Escape(Piece(tid))} (#{tid})" : "")}")
                .AddColumns("slot", $"top {parse.GetValue(topK)}");
            if (targetId != null) table.AddColumns("target rank", "target p");
            table.AddColumns("KL(final‖slot)", "entropy");
            foreach (var r in report.Readings)
            {
                var cells = new List<string>
                {
                    r.Slot.ToString(),
                    string.Join("  ", r.Top.Select(x => $"{Markup.Escape(x.Text)} {x.Probability:F3}")),
                };
                if (targetId != null) cells.AddRange([r.TargetRank!.Value.ToString(), $"{r.TargetProbability!.Value:G3}"]);
                cells.AddRange([$"{r.KlFromFinal:F3}", $"{r.EntropyNats:F3}"]);
                table.AddRow(cells.ToArray());
            }
            console.Write(table);

            using var files = new StagedFiles();
            if (outPath != null && csv != null)
            {
                files.Stage(outPath, CompareCommand.Json(new
                {
                    command = "lens",
                    model = m.Folder.Directory,
                    tokens,
                    pieces = tokens.Select(Piece).ToArray(),
                    position = pos,
                    target = targetId,
                    target_text = targetId is int id ? Piece(id) : null,
                    readings = report.Readings.Select(r => new
                    {
                        slot = r.Slot,
                        position = r.Position,
                        top = r.Top.Select(x => new { id = x.Id, text = x.Text, probability = x.Probability, logit = x.Logit }),
                        target_rank = r.TargetRank,
                        target_probability = r.TargetProbability,
                        kl_from_final = r.KlFromFinal,
                        entropy_nats = r.EntropyNats,
                    }),
                }));
                files.Stage(csv, CompareCommand.TableCsv(["slot", "position", "top1_id", "top1_text", "top1_probability", "target_rank", "target_probability", "kl_from_final", "entropy_nats"],
                    report.Readings.Select(r => (IReadOnlyList<object?>)[r.Slot, r.Position, r.Top[0].Id, r.Top[0].Text, r.Top[0].Probability,
                        r.TargetRank, r.TargetProbability, r.KlFromFinal, r.EntropyNats])));
            }
            if (plotPath != null)
            {
                var probabilities = new List<(string Label, double[] Values)> { ("top-1 probability", report.Readings.Select(r => r.Top[0].Probability).ToArray()) };
                if (targetId is int tgt) probabilities.Add(($"p({Piece(tgt)})", report.Readings.Select(r => r.TargetProbability!.Value).ToArray()));
                string title = $"logit lens, {CompareCommand.Name(m)}, position {pos}";
                files.Stage(plotPath, LayerPlots.Panels(LayerPlots.FormatOf(plotPath), "residual slot", report.Slots,
                [
                    new CurvePanel($"{title}: nats", "nats",
                        [("KL(final ‖ slot)", report.Readings.Select(r => r.KlFromFinal).ToArray()), ("entropy", report.Readings.Select(r => r.EntropyNats).ToArray())]),
                    new CurvePanel($"{title}: probabilities", "probability", probabilities),
                ]));
            }
            files.Commit();
            var written = new[] { outPath, csv, plotPath }.OfType<string>().ToArray();
            if (written.Length > 0) console.MarkupLine($"wrote {Markup.Escape(string.Join(", ", written))}");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// "#123" is an id. Otherwise the text, then the text with a leading space, encoded without special tokens, must
    /// give one token; failing that, the first token of the leading-space encoding is tracked (with a note), which is
    /// the token a model must predict first to continue with the word.
    /// </summary>
    internal static (int Id, string? Note) ResolveTarget(NativeLayers.Runtime.Transformer model, string text)
    {
        if (text.StartsWith('#') && int.TryParse(text[1..], out int id))
            return (uint)id < (uint)model.VocabSize ? (id, null) : throw new NativeLayersException($"--target {text} is outside the vocabulary (0..{model.VocabSize - 1}).");
        if (!model.HasTokenizer) throw new NativeLayersException("this model has no tokenizer; give the target as #ID.");
        foreach (var candidate in new[] { text, " " + text })
        {
            var encoded = model.Tokenizer.Encode(candidate, addSpecialTokens: false);
            if (encoded.Length == 1) return (encoded[0], null);
        }
        var pieces = model.Tokenizer.Encode(" " + text, addSpecialTokens: false);
        if (pieces.Length == 0) throw new NativeLayersException($"--target '{text}' encodes to no tokens.");
        return (pieces[0], $"'{text}' is {pieces.Length} tokens ({string.Join(" ", pieces.Select(model.Tokenizer.TokenText))}); tracking the first, {model.Tokenizer.TokenText(pieces[0])} (#{pieces[0]}).");
    }
}
