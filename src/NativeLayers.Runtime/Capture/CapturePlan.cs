using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Capture;

/// <summary>What to keep of each sequence: every token, the last one, or tokens picked by a mask.</summary>
public enum CapturePositions { All, Last, Mask }

/// <summary>How the kept tokens of a sequence become rows: one row each, their mean, or the last one.</summary>
public enum Reduction { None, Mean, Last }

/// <summary>Points, positions and reduction of a capture. Layers are resolved against the model when it runs.</summary>
public sealed record CapturePlan
{
    public required IReadOnlyList<HookId> Hooks { get; init; }
    public CapturePositions Positions { get; init; } = CapturePositions.All;
    /// <summary>With <see cref="CapturePositions.Mask"/>: one bool per token per sequence.</summary>
    public IReadOnlyList<bool[]>? Mask { get; init; }
    public Reduction Reduction { get; init; } = Reduction.None;

    /// <summary>Hooks from short point names and a layer list ("resid_post,attn_out" × "0-3,-1"); embed and final_normalized need no layers.</summary>
    public static IReadOnlyList<HookId> ParseHooks(string points, string layers, int modelLayers)
    {
        var resolved = LayerSelection.Parse(layers, modelLayers);
        var hooks = new List<HookId>();
        foreach (var name in points.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (name.StartsWith("blocks.") || name is "hook_embed" or "ln_final.hook_normalized")
            {
                hooks.Add(HookId.Parse(name, modelLayers));
                continue;
            }
            var point = HookId.ParsePoint(name);
            if (point == HookPoint.Embed) hooks.Add(HookId.Embed);
            else if (point == HookPoint.FinalNormalized) hooks.Add(HookId.FinalNormalized);
            else hooks.AddRange(resolved.Select(l => new HookId(point, l)));
        }
        if (hooks.Count == 0) throw new NativeLayersException("no hook points given (e.g. --points resid_post --layers all).");
        return hooks.Distinct().ToList();
    }
}

/// <summary>Rows captured at one point: [Rows, Width]; RowsPerSequence says which rows belong to which sequence.</summary>
public sealed record CapturedTensor(HookId Hook, float[] Data, int Rows, int Width, int[] RowsPerSequence)
{
    public ReadOnlySpan<float> Row(int row) => Data.AsSpan(row * Width, Width);
}
