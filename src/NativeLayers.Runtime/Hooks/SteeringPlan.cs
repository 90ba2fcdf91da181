using NativeLayers.Loading;

namespace NativeLayers.Runtime.Hooks;

/// <summary>One change to the residual stream (or a sub-layer output) during the forward pass.</summary>
public abstract record SteeringOperation(HookId Hook, Positions Positions);

/// <summary>
/// Adds coefficient · vector. With <see cref="ScaleToResidualNorm"/> the vector is first rescaled to the norm of
/// the row it is added to (so the coefficient is relative); with <see cref="PreserveNorm"/> the row is rescaled
/// back to its norm before the addition (repeng's normalize=true).
/// </summary>
public sealed record AddVector(HookId Hook, float[] Vector, float Coefficient, Positions Positions,
    bool ScaleToResidualNorm = false, bool PreserveNorm = false) : SteeringOperation(Hook, Positions)
{
    /// <summary>Plain additions at every position can be folded into the projection that produces the point.</summary>
    public bool IsPlain => Positions.Kind == PositionKind.All && !ScaleToResidualNorm && !PreserveNorm;
}

/// <summary>Removes the component along a direction: x ← x − (x·u)u with u = direction / ‖direction‖.</summary>
public sealed record ProjectOut(HookId Hook, float[] Direction, Positions Positions) : SteeringOperation(Hook, Positions);

/// <summary>The steering of one sequence: operations applied in order at their hook points.</summary>
public sealed class SteeringPlan
{
    private readonly List<SteeringOperation> _operations = [];
    // Per-plan caches, dropped whenever an operation is added: the model it was validated for, and folded biases.
    private Transformer? _validatedFor;
    private readonly Dictionary<(Models.Linear, HookId), PinnedBuffer?> _foldedBiases = new();

    public IReadOnlyList<SteeringOperation> Operations => _operations;

    public SteeringPlan Add(SteeringOperation operation)
    {
        lock (_foldedBiases)
        {
            _operations.Add(operation);
            _validatedFor = null;
            _foldedBiases.Clear();
        }
        return this;
    }

    internal void EnsureValidFor(Transformer model)
    {
        if (ReferenceEquals(_validatedFor, model)) return;
        Validate(model);
        _validatedFor = model;
    }

    /// <summary>A projection's bias with this plan's folded additions, built once per (projection, point).</summary>
    internal PinnedBuffer? FoldedBias(Models.Linear projection, HookId key, Func<PinnedBuffer?> build)
    {
        lock (_foldedBiases)
        {
            if (!_foldedBiases.TryGetValue((projection, key), out var bias)) _foldedBiases[(projection, key)] = bias = build();
            return bias;
        }
    }

    public SteeringPlan AddVector(int layer, float[] vector, float coefficient, HookPoint point = HookPoint.ResidPost, Positions? positions = null) =>
        Add(new AddVector(new HookId(point, layer), vector, coefficient, positions ?? Positions.All));

    public SteeringPlan ProjectOut(int layer, float[] direction, HookPoint point = HookPoint.ResidPost, Positions? positions = null) =>
        Add(new ProjectOut(new HookId(point, layer), direction, positions ?? Positions.All));

    /// <summary>Rejects vectors of the wrong width, non-finite values, zero directions and points the model lacks.</summary>
    public void Validate(Transformer model)
    {
        foreach (var op in _operations)
        {
            var hook = op.Hook;
            if (hook.Point == HookPoint.FinalNormalized)
                throw new NativeLayersException("steering at ln_final.hook_normalized is not supported; steer a residual point instead.");
            if (!hook.IsModelLevel && (hook.Layer < 0 || hook.Layer >= model.Layers))
                throw new NativeLayersException($"steering at {hook.Name}: layer {hook.Layer} is out of range; this model has blocks 0..{model.Layers - 1}.");
            if (hook.Point == HookPoint.ResidMid && model.Spec.Layout == Models.BlockLayout.Parallel)
                throw new NativeLayersException($"{hook.Name} does not exist in parallel-residual blocks ({model.Config.ModelType}).");
            float[] v = op switch { AddVector a => a.Vector, ProjectOut p => p.Direction, _ => [] };
            if (v.Length != model.Width)
                throw new NativeLayersException($"steering vector for {hook.Name} has {v.Length} values, but the model's width is {model.Width}.");
            if (v.Any(x => !float.IsFinite(x)))
                throw new NativeLayersException($"steering vector for {hook.Name} contains NaN or infinity.");
            if (op is AddVector { Coefficient: var c } && !float.IsFinite(c))
                throw new NativeLayersException($"steering coefficient for {hook.Name} is not finite.");
            if (op is ProjectOut && v.All(x => x == 0))
                throw new NativeLayersException($"direction to project out at {hook.Name} is zero.");
        }
    }
}
