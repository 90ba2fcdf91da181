using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Capture;

/// <summary>Points, tokens and reduction of a capture. Layers are resolved against the model when it runs.</summary>
public sealed record CapturePlan
{
    public required IReadOnlyList<HookId> Hooks { get; init; }
    /// <summary>Which tokens of each sequence are kept (all, last, first, a mask, explicit positions, ...).</summary>
    public TokenSelection Tokens { get; init; } = TokenSelection.All;
    public Reduction Reduction { get; init; } = Reduction.None;

    /// <summary>Hooks for residual slots 0..L (slot 0 = hook_embed, slot l + 1 = blocks.l.hook_resid_post).</summary>
    public static IReadOnlyList<HookId> SlotHooks(IEnumerable<int> slots) =>
        slots.Select(s => s == 0 ? HookId.Embed : HookId.ResidPost(s - 1)).ToList();

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

/// <summary>
/// Rows captured at one point: [Rows, Width]; RowsPerSequence says which rows belong to which sequence, RowPositions
/// the position each row was read at (a reduced row: the last position it covers).
/// </summary>
public sealed record CapturedTensor(HookId Hook, float[] Data, int Rows, int Width, int[] RowsPerSequence, int[] RowPositions)
{
    private readonly int[] _firstRows = RowsPerSequence.Select((_, s) => RowsPerSequence.Take(s).Sum()).ToArray();

    public ReadOnlySpan<float> Row(int row) => Data.AsSpan(row * Width, Width);

    /// <summary>The rows of sequence <paramref name="sequence"/>: [RowsPerSequence[sequence], Width].</summary>
    public ReadOnlySpan<float> SequenceRows(int sequence) => Data.AsSpan(_firstRows[sequence] * Width, RowsPerSequence[sequence] * Width);
}
