using NativeLayers.Backends;
using NativeLayers.Runtime.Models;

namespace NativeLayers.Runtime.Hooks;

/// <summary>One thing to do to the rows of a hook point, in order.</summary>
internal abstract record HookStep;

/// <summary>Plain additions, any number per row, as one table for the residual-add op.</summary>
internal sealed record AddStep(RowSteering Table) : HookStep;

/// <summary>Ablation of one direction on the listed rows.</summary>
internal sealed record ProjectStep(float[] Direction, int[] Rows) : HookStep;

/// <summary>Additions that need the row's own norm, applied on host copies of the rows.</summary>
internal sealed record HostStep(IReadOnlyList<(int Row, AddVector Op)> Rows) : HookStep;

/// <summary>Rows rewritten on the host by a transform, with their positions.</summary>
internal sealed record TransformStep(IRowTransform Transform, int[] Rows, int[] Positions) : HookStep;

/// <summary>Rows replaced by given values (patching), each row with its value.</summary>
internal sealed record SetStep(IReadOnlyList<(int Row, float[] Values, int Offset)> Rows) : HookStep;

/// <summary>The additions riding on a projection's bias: every sequence shares the plan, and they come first at their points.</summary>
internal sealed record FoldedBias(SteeringPlan Plan, HookId Output, bool WithResidual, IReadOnlyList<AddVector> Additions);

/// <summary>
/// What one forward call does at each hook point, worked out once from the steering plans, the captures and the
/// rows of the batch, before any op runs: which points are captured, which steps change which rows, and which plain
/// additions fold into the bias of the projection that produces their point (no pass over memory at all). It knows
/// nothing of backends; <see cref="HookApplier"/> carries it out through the op interface.
/// </summary>
internal sealed class HookSchedule
{
    private readonly HashSet<HookId> _capture;
    private readonly Dictionary<HookId, List<HookStep>> _steps = new();
    private readonly Dictionary<HookId, FoldedBias> _folded = new();

    public static HookSchedule? Create(ModelShape shape, IReadOnlyList<SequenceRows> rows, IReadOnlyList<SteeringPlan?> plans,
        IReadOnlyList<int> promptLengths, IReadOnlyCollection<HookId>? capture)
    {
        foreach (var plan in plans.Distinct()) plan?.EnsureValidFor(shape);
        var captured = new HashSet<HookId>(capture ?? []);
        foreach (var hook in captured) HookId.RequireExists(hook, shape, "cannot capture");
        if (plans.All(p => p == null || p.Operations.Count == 0) && captured.Count == 0) return null;
        return new HookSchedule(shape, rows, plans, promptLengths, captured);
    }

    private HookSchedule(ModelShape shape, IReadOnlyList<SequenceRows> rows, IReadOnlyList<SteeringPlan?> plans,
        IReadOnlyList<int> promptLengths, HashSet<HookId> capture)
    {
        _capture = capture;
        var shared = plans.Count > 0 && plans.All(p => ReferenceEquals(p, plans[0])) ? plans[0] : null;
        var remaining = plans.Select(p => p?.Operations.ToList() ?? []).ToArray();
        if (shared != null && !shape.SubLayerOutputNorms) Fold(shape, shared, remaining);
        foreach (var hook in remaining.SelectMany(ops => ops).Select(op => op.Hook).Distinct())
            _steps[hook] = BuildSteps(hook, rows, remaining, promptLengths, shape.Width);
    }

    public bool Captures(HookId hook) => _capture.Contains(hook);

    public IReadOnlyList<HookStep> Steps(HookId hook) => _steps.TryGetValue(hook, out var steps) ? steps : [];

    /// <summary>True when a computed point's rows must exist on their own (captured, or changed row by row).</summary>
    public bool NeedsRows(HookId hook) => _capture.Contains(hook) || _steps.ContainsKey(hook);

    /// <summary>The folded additions of the projection that produces <paramref name="output"/> (attn_out or mlp_out), if any.</summary>
    public FoldedBias? Folded(HookId output) => _folded.GetValueOrDefault(output);

    /// <summary>
    /// Takes the leading plain every-token additions at each sub-layer output into its projection's bias, and those of
    /// the residual point right after it when the sub-layer's own rows are not needed (they would then include them).
    /// </summary>
    private void Fold(ModelShape shape, SteeringPlan plan, List<SteeringOperation>[] remaining)
    {
        var ops = remaining[0];
        for (int layer = 0; layer < shape.Layers; layer++)
            foreach (var (output, residual) in FoldTargets(shape.Layout, layer))
            {
                if (shape.MixtureOfExperts && output.Point == HookPoint.MlpOut) continue; // no single projection to ride on
                var additions = TakeLeadingPlain(ops, output);
                bool withResidual = false;
                if (residual is { } r && !_capture.Contains(output) && !ops.Any(op => op.Hook == output))
                {
                    var more = TakeLeadingPlain(ops, r);
                    withResidual = more.Count > 0;
                    additions.AddRange(more);
                }
                if (additions.Count > 0) _folded[output] = new FoldedBias(plan, output, withResidual, additions);
            }
        for (int s = 1; s < remaining.Length; s++) remaining[s] = ops;
    }

    /// <summary>Sub-layer outputs whose projection feeds the residual directly, each with the residual point it lands in.</summary>
    private static IEnumerable<(HookId Output, HookId? Residual)> FoldTargets(BlockLayout layout, int layer) => layout switch
    {
        BlockLayout.PreNorm => [(new(HookPoint.AttnOut, layer), new HookId(HookPoint.ResidMid, layer)), (new(HookPoint.MlpOut, layer), HookId.ResidPost(layer))],
        BlockLayout.Parallel => [(new(HookPoint.AttnOut, layer), null), (new(HookPoint.MlpOut, layer), HookId.ResidPost(layer))],
        BlockLayout.StateSpace => [(new(HookPoint.MixerOut, layer), HookId.ResidPost(layer))],
        _ => [(new(HookPoint.AttnOut, layer), null), (new(HookPoint.MlpOut, layer), null)],
    };

    private static List<AddVector> TakeLeadingPlain(List<SteeringOperation> ops, HookId hook)
    {
        var taken = new List<AddVector>();
        foreach (var op in ops.Where(o => o.Hook == hook).ToList())
        {
            if (op is not AddVector { IsPlain: true } add || add.Tokens.Kind != TokenSelectionKind.All) break;
            taken.Add(add);
            ops.Remove(op);
        }
        return taken;
    }

    /// <summary>
    /// Steps at one point: the k-th remaining operation of every sequence forms rank k (different sequences own
    /// different rows, so a rank's order within itself does not matter); consecutive ranks of plain additions merge
    /// into one table.
    /// </summary>
    private static List<HookStep> BuildSteps(HookId hook, IReadOnlyList<SequenceRows> rows, List<SteeringOperation>[] remaining,
        IReadOnlyList<int> promptLengths, int width)
    {
        var perSequence = remaining.Select(ops => ops.Where(op => op.Hook == hook).ToList()).ToArray();
        int ranks = perSequence.Max(p => p.Count);
        var steps = new List<HookStep>();
        var pendingAdds = new List<(int Row, AddVector Op)>();
        void FlushAdds()
        {
            if (pendingAdds.Count > 0) steps.Add(new AddStep(Table(pendingAdds, rows.Sum(r => r.Count), width)));
            pendingAdds.Clear();
        }
        for (int k = 0; k < ranks; k++)
        {
            var adds = new List<(int, AddVector)>();
            var projections = new Dictionary<float[], List<int>>(ReferenceEqualityComparer.Instance);
            var host = new List<(int, AddVector)>();
            var sets = new List<(int, float[], int)>();
            var transforms = new Dictionary<IRowTransform, (List<int> Rows, List<int> Positions)>(ReferenceEqualityComparer.Instance);
            for (int s = 0; s < perSequence.Length; s++)
            {
                if (k >= perSequence[s].Count) continue;
                var op = perSequence[s][k];
                if (op is SetRows set)
                {
                    for (int i = 0; i < set.Positions.Length; i++)
                        if (set.Positions[i] - rows[s].FirstPosition is var t && t >= 0 && t < rows[s].Count) sets.Add((rows[s].FirstRow + t, set.Values, i * width));
                    continue;
                }
                if (op is TransformRows transform)
                {
                    if (!transforms.TryGetValue(transform.Transform, out var selected)) transforms[transform.Transform] = selected = ([], []);
                    foreach (int row in SelectedRows(op.Tokens, s, rows[s], promptLengths[s]))
                    {
                        selected.Rows.Add(row);
                        selected.Positions.Add(rows[s].FirstPosition + row - rows[s].FirstRow);
                    }
                    continue;
                }
                foreach (int row in SelectedRows(op.Tokens, s, rows[s], promptLengths[s]))
                    switch (op)
                    {
                        case AddVector { IsPlain: true } add: adds.Add((row, add)); break;
                        case AddVector add: host.Add((row, add)); break;
                        case ProjectOut ablate:
                            if (!projections.TryGetValue(ablate.Direction, out var list)) projections[ablate.Direction] = list = [];
                            list.Add(row);
                            break;
                    }
            }
            pendingAdds.AddRange(adds);
            if (projections.Count == 0 && host.Count == 0 && sets.Count == 0 && transforms.Count == 0) continue;
            FlushAdds();
            foreach (var (direction, list) in projections) steps.Add(new ProjectStep(direction, [.. list]));
            if (host.Count > 0) steps.Add(new HostStep(host));
            if (sets.Count > 0) steps.Add(new SetStep(sets));
            foreach (var (transform, selected) in transforms)
                if (selected.Rows.Count > 0) steps.Add(new TransformStep(transform, [.. selected.Rows], [.. selected.Positions]));
        }
        FlushAdds();
        return steps;
    }

    private static IEnumerable<int> SelectedRows(TokenSelection tokens, int sequence, SequenceRows rows, int promptLength)
    {
        int end = rows.FirstPosition + rows.Count;
        for (int t = 0; t < rows.Count; t++)
            if (tokens.Includes(sequence, rows.FirstPosition + t, promptLength, end)) yield return rows.FirstRow + t;
    }

    private static RowSteering Table(List<(int Row, AddVector Op)> additions, int rowCount, int width)
    {
        var vectors = new List<float[]>();
        var vectorIndex = new Dictionary<float[], int>(ReferenceEqualityComparer.Instance);
        var perRow = new int[rowCount];
        foreach (var (row, _) in additions) perRow[row]++;
        int entries = perRow.Max();
        var indices = new int[rowCount * entries];
        Array.Fill(indices, -1);
        var coefficients = new float[rowCount * entries];
        Array.Clear(perRow);
        foreach (var (row, add) in additions)
        {
            if (!vectorIndex.TryGetValue(add.Vector, out int index))
            {
                vectorIndex[add.Vector] = index = vectors.Count;
                vectors.Add(add.Vector);
            }
            int slot = row * entries + perRow[row]++;
            indices[slot] = index;
            coefficients[slot] = add.Coefficient;
        }
        var table = new float[vectors.Count * width];
        for (int v = 0; v < vectors.Count; v++) vectors[v].CopyTo(table, v * width);
        return new RowSteering(indices, coefficients, table, entries);
    }
}
