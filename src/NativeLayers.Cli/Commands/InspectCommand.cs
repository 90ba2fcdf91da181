using System.CommandLine;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl inspect`: what a model folder holds.</summary>
public static class InspectCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var showTensors = new Option<bool>("--tensors") { Description = "List every tensor." };
        var command = new Command("inspect", "Show a model's architecture, shapes, dtypes, parameter count and tokenizer.") { model, showTensors };
        command.SetAction(parse =>
        {
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), 1);
            var c = m.Config;
            var tensors = m.Folder.Weights.Tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
            long parameters = tensors.Sum(t => t.Info.ElementCount);
            long bytes = tensors.Sum(t => t.Info.ByteLength);
            var table = new Table().Border(TableBorder.Rounded).AddColumn("property").AddColumn("value");
            void Row(string k, string v) => table.AddRow(Markup.Escape(k), Markup.Escape(v));
            Row("folder", Path.GetFullPath(m.Folder.Directory));
            Row("model_type", $"{c.ModelType} ({string.Join(", ", c.Architectures)})");
            Row("layers", c.NumLayers.ToString());
            Row("hidden size", c.HiddenSize.ToString());
            if (c.StateSpace is { } ssm)
            {
                Row("mixer", $"selective state space (Mamba): {c.IntermediateSize} channels, state {ssm.StateSize} per channel, conv kernel {ssm.ConvKernel}, " +
                    $"Δ rank {ssm.TimeStepRank}, {m.Spec.Activation}; recurrent state {StateBytes(c, ssm)} per sequence, whatever its length");
                Row("block", $"{m.Spec.Layout} blocks (x += mixer(norm(x))), {m.Spec.Norm} (eps {c.NormEps}); hook points resid_pre, mixer_out, resid_post");
                Row("positions", "none (the recurrence orders tokens); no length limit");
            }
            else
            {
                Row("attention", $"{c.NumHeads} heads / {c.NumKvHeads} kv heads, head_dim {c.HeadDim}" + (c.SlidingWindow is int w ? $", sliding window {w}" : ""));
                Row("mlp", (c.Experts > 0 ? $"mixture of {c.Experts} experts, top {c.ExpertsPerToken} per token (softmax renormalised), each " : "") +
                    $"intermediate {c.IntermediateSize}, {m.Spec.Activation}{(m.Spec.GatedMlp ? " gated" : "")}");
                Row("block", $"{m.Spec.Layout} blocks, {m.Spec.Norm} (eps {c.NormEps}), {(m.Spec.Causal ? "causal" : "bidirectional")} attention" + Extras(m));
                if (m.Spec.PerLayer is { } perLayer)
                    Row("layer pattern", string.Join(" ", perLayer.Select((a, l) => a.SlidingWindow is int lw ? $"{l}:local({lw + 1} keys, θ {a.RopeTheta})" : $"{l}:global(θ {a.RopeTheta})")));
                Row("positions", (m.Spec.RotaryDim > 0
                    ? $"RoPE over {m.Spec.RotaryDim} of {c.HeadDim} dims, theta {c.RopeTheta}" + (c.RopeScaling is { } s ? $", {s.Type} scaling ×{s.Factor}" : "")
                    : "learned absolute") + $", max {c.MaxPositions}" + (c.TypeVocabSize > 0 ? $", {c.TypeVocabSize} token types" : ""));
            }
            Row("vocabulary", $"{c.VocabSize}, embeddings {(c.TieWordEmbeddings ? "tied" : "untied")}");
            Row("residual slots", $"{c.NumLayers + 1} (0 = embeddings, l+1 = after block l, {c.NumLayers} = raw final residual)");
            Row("parameters", $"{parameters:N0}");
            Row("weights", $"{Size(bytes)} in {m.Folder.Weights.Files.Count} file(s); dtypes {string.Join(", ", tensors.GroupBy(t => t.DType).Select(g => $"{g.Key} ×{g.Count()}"))}");
            Row("eos / bos", $"{string.Join(",", m.Folder.EosTokenIds)} / {m.Folder.BosTokenId?.ToString() ?? "-"}");
            Row("tokenizer", m.HasTokenizer ? m.Tokenizer.Description : "none (use --ids)");
            console.Write(table);
            if (parse.GetValue(showTensors))
            {
                var list = new Table().Border(TableBorder.Simple).AddColumn("tensor").AddColumn("dtype").AddColumn("shape");
                foreach (var t in tensors) list.AddRow(Markup.Escape(t.Name), t.DType.ToString(), Markup.Escape(t.Info.ShapeText));
                console.Write(list);
            }
            return 0;
        });
        return command;
    }

    public static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        _ => $"{bytes / 1024.0:F1} KiB",
    };

    /// <summary>Conv history and scan state of every layer, in float32.</summary>
    private static string StateBytes(Loading.ModelConfig c, Loading.StateSpaceConfig ssm) =>
        Size(4L * c.NumLayers * c.IntermediateSize * (ssm.ConvKernel - 1 + ssm.StateSize));

    /// <summary>What sets a family's block apart: norms around the sub-layers, q/k norms, scores' scale and caps.</summary>
    private static string Extras(Runtime.Transformer m)
    {
        var spec = m.Spec;
        var block = m.Weights.Blocks[0];
        var parts = new List<string>();
        if (block.AttentionOutputNorm != null) parts.Add(block.AttentionNorm != null ? "norms before and after each sub-layer" : "norms on the sub-layer outputs only");
        if (spec.QkNorm != Runtime.Models.QkNorm.None) parts.Add(spec.QkNorm == Runtime.Models.QkNorm.PerHead ? "per-head q/k norms" : "q/k norms over the whole projection");
        if (spec.AttentionScale is { } scale) parts.Add($"score scale {scale:G4}");
        if (spec.AttentionSoftCap > 0) parts.Add($"scores soft-capped at {spec.AttentionSoftCap}");
        if (spec.FinalLogitSoftCap > 0) parts.Add($"logits soft-capped at {spec.FinalLogitSoftCap}");
        return parts.Count == 0 ? "" : "; " + string.Join(", ", parts);
    }
}
