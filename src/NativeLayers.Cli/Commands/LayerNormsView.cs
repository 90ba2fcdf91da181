using System.Numerics.Tensors;
using NativeLayers.Runtime;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>A bar chart of the residual stream's L2 norm per slot at the last prompt token.</summary>
public static class LayerNormsView
{
    public static void Show(IAnsiConsole console, Transformer model, int[] promptIds)
    {
        var result = model.Forward([promptIds], LogitsMode.None);
        var stream = result.Residual;
        var chart = new BarChart()
            .Label($"[bold]Residual stream ‖x‖₂ at the last prompt token, per slot[/] (slot 0 = embeddings, slot l+1 = after block l)")
            .Width(Math.Min(100, console.Profile.Width));
        for (int slot = 0; slot < stream.SlotCount; slot++)
        {
            float norm = TensorPrimitives.Norm(stream.Row(slot, stream.Rows - 1));
            string label = slot == 0 ? "embed" : slot == stream.SlotCount - 1 ? $"block {slot - 1} (final)" : $"block {slot - 1}";
            chart.AddItem(label, Math.Round(norm, 3), Color.SteelBlue1);
        }
        console.Write(chart);
    }
}
