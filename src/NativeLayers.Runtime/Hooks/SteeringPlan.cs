using NativeLayers.Loading;
using NativeLayers.Runtime.Models;

namespace NativeLayers.Runtime.Hooks;

/// <summary>One change to the residual stream (or a sub-layer output) during the forward pass.</summary>
public abstract record SteeringOperation(HookId Hook, TokenSelection Tokens);

/// <summary>
/// Adds coefficient · vector. With <see cref="ScaleToResidualNorm"/> the vector is first rescaled to the norm of
/// the row it is added to (so the coefficient is relative); with <see cref="PreserveNorm"/> the row is rescaled
/// back to its norm before the addition (repeng's normalize=true).
/// </summary>
public sealed record AddVector(HookId Hook, float[] Vector, float Coefficient, TokenSelection Tokens,
    bool ScaleToResidualNorm = false, bool PreserveNorm = false) : SteeringOperation(Hook, Tokens)
{
    /// <summary>Needs nothing of the row it changes, so it can be a per-row table entry (or a folded bias at every token).</summary>
    public bool IsPlain => !ScaleToResidualNorm && !PreserveNorm;
}

/// <summary>Removes the component along a direction: x ← x − (x·u)u with u = direction / ‖direction‖.</summary>
public sealed record ProjectOut(HookId Hook, float[] Direction, TokenSelection Tokens) : SteeringOperation(Hook, Tokens);

/// <summary>
/// Replaces the rows of the listed positions with given values (activation patching: a value taken from another run).
/// <see cref="Values"/> holds one row of the point's width per position, in the order of <see cref="Positions"/>.
/// </summary>
public sealed record SetRows(HookId Hook, int[] Positions, float[] Values) : SteeringOperation(Hook, TokenSelection.At([Positions]))
{
    /// <summary>The value of the position's row, or an empty span when the position is not listed.</summary>
    public ReadOnlySpan<float> ValueAt(int position, int width)
    {
        int i = Array.IndexOf(Positions, position);
        return i < 0 ? [] : Values.AsSpan(i * width, width);
    }
}

/// <summary>
/// A change computed from the rows themselves on the host (an SAE spliced into the stream, a feature clamped): it gets
/// the selected rows, [count, width] row-major, with each row's position, and rewrites them in place.
/// </summary>
public interface IRowTransform
{
    /// <summary>The row width it reads and writes.</summary>
    int Width { get; }
    void Apply(Span<float> rows, ReadOnlySpan<int> positions);
}

/// <summary>Rows of the selected positions rewritten by <see cref="Transform"/> (see <see cref="IRowTransform"/>).</summary>
public sealed record TransformRows(HookId Hook, IRowTransform Transform, TokenSelection Tokens) : SteeringOperation(Hook, Tokens);

/// <summary>The steering of one sequence: operations applied in order at their hook points.</summary>
public sealed class SteeringPlan
{
    private readonly List<SteeringOperation> _operations = [];
    private ModelShape? _validatedFor;

    public IReadOnlyList<SteeringOperation> Operations => _operations;

    /// <summary>Counts edits, so that what a backend built from this plan (folded biases) is rebuilt after one.</summary>
    public int Version { get; private set; }

    public SteeringPlan Add(SteeringOperation operation)
    {
        lock (_operations)
        {
            _operations.Add(operation);
            _validatedFor = null;
            Version++;
        }
        return this;
    }

    public SteeringPlan AddVector(int layer, float[] vector, float coefficient, HookPoint point = HookPoint.ResidPost, TokenSelection? tokens = null) =>
        Add(new AddVector(new HookId(point, layer), vector, coefficient, tokens ?? TokenSelection.All));

    public SteeringPlan ProjectOut(int layer, float[] direction, HookPoint point = HookPoint.ResidPost, TokenSelection? tokens = null) =>
        Add(new ProjectOut(new HookId(point, layer), direction, tokens ?? TokenSelection.All));

    /// <summary>Rewrites the point's rows at the selected positions with <paramref name="transform"/>.</summary>
    public SteeringPlan Transform(HookId hook, IRowTransform transform, TokenSelection? tokens = null) =>
        Add(new TransformRows(hook, transform, tokens ?? TokenSelection.All));

    /// <summary>Sets the rows of <paramref name="positions"/> at the point to <paramref name="values"/> ([positions, width]).</summary>
    public SteeringPlan Set(HookId hook, int[] positions, float[] values) => Add(new SetRows(hook, positions, values));

    /// <summary>Validates once per model shape (and again after an edit).</summary>
    internal void EnsureValidFor(ModelShape shape)
    {
        lock (_operations)
        {
            if (_validatedFor == shape) return;
            Validate(shape);
            _validatedFor = shape;
        }
    }

    /// <summary>Rejects vectors of the wrong width, non-finite values, zero directions and points the model lacks.</summary>
    public void Validate(ModelShape shape)
    {
        foreach (var op in _operations)
        {
            var hook = op.Hook;
            if (hook.Point is HookPoint.FinalNormalized or HookPoint.RouterLogits or HookPoint.ExpertIds)
                throw new NativeLayersException($"steering at {hook.Name} is not supported; steer a residual or sub-layer output point instead.");
            HookId.RequireExists(hook, shape, "steering at");
            if (op is SetRows set)
            {
                if (set.Values.Length != set.Positions.Length * shape.Width)
                    throw new NativeLayersException($"setting {set.Positions.Length} rows at {hook.Name} needs {set.Positions.Length} × {shape.Width} values, got {set.Values.Length}.");
                if (set.Positions.Any(p => p < 0) || set.Positions.Distinct().Count() != set.Positions.Length)
                    throw new NativeLayersException($"setting rows at {hook.Name}: positions must be distinct and ≥ 0.");
                if (set.Values.Any(x => !float.IsFinite(x)))
                    throw new NativeLayersException($"the values set at {hook.Name} contain NaN or infinity.");
                continue;
            }
            if (op is TransformRows transform)
            {
                if (transform.Transform.Width != shape.Width)
                    throw new NativeLayersException($"{transform.Transform} at {hook.Name} reads rows of {transform.Transform.Width} values, but the model's width is {shape.Width}.");
                if (op.Tokens.Kind is TokenSelectionKind.Mask or TokenSelectionKind.Explicit)
                    throw new NativeLayersException($"a transform at {hook.Name} takes all, prompt, generated, last, first, last-prompt or from:P positions.");
                continue;
            }
            if (op.Tokens.Kind is TokenSelectionKind.Mask or TokenSelectionKind.Explicit)
                throw new NativeLayersException($"steering at {hook.Name}: masks and explicit positions select captured tokens; steer with all, prompt, generated, last, first, last-prompt or from:P.");
            float[] v = op switch { AddVector a => a.Vector, ProjectOut p => p.Direction, _ => [] };
            if (v.Length != shape.Width)
                throw new NativeLayersException($"steering vector for {hook.Name} has {v.Length} values, but the model's width is {shape.Width}.");
            if (v.Any(x => !float.IsFinite(x)))
                throw new NativeLayersException($"steering vector for {hook.Name} contains NaN or infinity.");
            if (op is AddVector { Coefficient: var c } && !float.IsFinite(c))
                throw new NativeLayersException($"steering coefficient for {hook.Name} is not finite.");
            if (op is ProjectOut && v.All(x => x == 0))
                throw new NativeLayersException($"direction to project out at {hook.Name} is zero.");
        }
    }
}
