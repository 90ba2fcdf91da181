using System.Numerics.Tensors;
using NativeLayers.Loading;
using NativeLayers.Runtime.Models;

namespace NativeLayers.Runtime.Hooks;

/// <summary>
/// Applies one forward call's steering plans and captures at the hook points. When every sequence carries the same
/// plan, plain additions at every position are folded into the bias of the projection that produces the point, so
/// they cost no pass over memory; everything else (per-sequence plans, position filters, norm scaling, ablation)
/// touches only the rows it changes. With no plan and no capture it does nothing.
/// </summary>
internal sealed unsafe class HookRunner
{
    private readonly Transformer _model;
    private readonly ResidualStream _stream;
    private readonly SteeringPlan?[] _plans;
    private readonly int[] _promptLengths;
    private readonly SteeringPlan? _shared;
    private readonly HashSet<HookId> _capture;
    private readonly Dictionary<HookId, float[]> _captured = new();
    /// <summary>Hooks that any sequence's plan touches: every other point is skipped with one lookup.</summary>
    private readonly HashSet<HookId> _steered;

    public static HookRunner? Create(Transformer model, ResidualStream stream, IReadOnlyList<Sequence> sequences, ForwardOptions options)
    {
        var plans = new SteeringPlan?[sequences.Count];
        if (options.SequenceSteering is { } perSequence)
        {
            if (perSequence.Count != sequences.Count)
                throw new NativeLayersException($"{perSequence.Count} steering plans for {sequences.Count} sequences; give one (or null) per sequence.");
            for (int i = 0; i < plans.Length; i++) plans[i] = perSequence[i];
        }
        else Array.Fill(plans, options.Steering);
        foreach (var plan in plans.Distinct()) plan?.EnsureValidFor(model);
        var capture = new HashSet<HookId>(options.Capture ?? []);
        foreach (var hook in capture) ValidateCapture(model, hook);
        if (plans.All(p => p == null || p.Operations.Count == 0) && capture.Count == 0) return null;
        return new HookRunner(model, stream, sequences, plans, capture);
    }

    private static void ValidateCapture(Transformer model, HookId hook)
    {
        if (!hook.IsModelLevel && (hook.Layer < 0 || hook.Layer >= model.Layers))
            throw new NativeLayersException($"cannot capture {hook.Name}: this model has blocks 0..{model.Layers - 1}.");
        if (hook.Point == HookPoint.ResidMid && model.Spec.Layout == BlockLayout.Parallel)
            throw new NativeLayersException($"{hook.Name} does not exist in parallel-residual blocks ({model.Config.ModelType}).");
    }

    private HookRunner(Transformer model, ResidualStream stream, IReadOnlyList<Sequence> sequences, SteeringPlan?[] plans, HashSet<HookId> capture)
    {
        _model = model;
        _stream = stream;
        _plans = plans;
        _capture = capture;
        _promptLengths = sequences.Select(s => s.PromptLength ?? 0).ToArray();
        _shared = plans.All(p => ReferenceEquals(p, plans[0])) ? plans[0] : null;
        _steered = plans.Where(p => p != null).SelectMany(p => p!.Operations).Select(op => op.Hook).ToHashSet();
    }

    public IReadOnlyDictionary<HookId, float[]> Captured => _captured;

    public bool Captures(HookId hook) => _capture.Contains(hook);

    /// <summary>Whether plain additions at this point can ride on the bias of the projection that produces it.</summary>
    private bool Foldable(HookId hook) => _shared != null && hook.Point switch
    {
        HookPoint.AttnOut or HookPoint.MlpOut => true,
        HookPoint.ResidMid => _model.Spec.Layout == BlockLayout.PreNorm,
        HookPoint.ResidPost => _model.Spec.Layout != BlockLayout.PostNorm,
        _ => false,
    };

    /// <summary>True when the point's rows must exist on their own (captured, or changed row by row).</summary>
    public bool NeedsRows(HookId hook) =>
        _capture.Contains(hook) || (_steered.Contains(hook)
            && _plans.Any(p => p != null && p.Operations.Any(op => op.Hook == hook && !(Foldable(hook) && op is AddVector { IsPlain: true }))));

    /// <summary>The projection's bias plus every folded addition at the given points, or null when nothing folds.</summary>
    public PinnedBuffer? FoldedBias(Linear projection, params HookId[] hooks)
    {
        if (_shared == null || !hooks.Any(_steered.Contains)) return null;
        return _shared.FoldedBias(projection, hooks[0], () =>
        {
            var folded = _shared.Operations.OfType<AddVector>().Where(a => a.IsPlain && hooks.Contains(a.Hook) && Foldable(a.Hook)).ToList();
            if (folded.Count == 0) return null;
            var bias = new PinnedBuffer(projection.OutFeatures, clear: true);
            projection.Bias?.Span.CopyTo(bias.Span);
            foreach (var add in folded) TensorPrimitives.MultiplyAdd(add.Vector, add.Coefficient, bias.Span, bias.Span);
            return bias;
        });
    }

    /// <summary>Applies the row-wise operations at a point to its rows (buffer [rows, width]) and captures them if asked.</summary>
    public void Apply(HookId hook, float* rows) => Apply(hook, rows, includeFolded: false);

    /// <summary>As <see cref="Apply(HookId, float*)"/>; with includeFolded, also the additions a CPU run folds into biases.</summary>
    public void Apply(HookId hook, float* rows, bool includeFolded)
    {
        int width = _model.Width;
        if (!_steered.Contains(hook))
        {
            if (_capture.Contains(hook) && hook.Slot < 0) _captured[hook] = new Span<float>(rows, _stream.Rows * width).ToArray();
            return;
        }
        for (int s = 0; s < _plans.Length; s++)
        {
            var plan = _plans[s];
            if (plan == null) continue;
            foreach (var op in plan.Operations)
            {
                if (op.Hook != hook || (!includeFolded && Foldable(hook) && op is AddVector { IsPlain: true } && _shared != null)) continue;
                var seq = _stream.Sequences[s];
                for (int t = 0; t < seq.Count; t++)
                {
                    if (!op.Positions.Includes(seq.FirstPosition + t, _promptLengths[s])) continue;
                    var row = new Span<float>(rows + (long)(seq.FirstRow + t) * width, width);
                    switch (op)
                    {
                        case AddVector add: SteeringMath.Add(row, add.Vector, add.Coefficient, add.ScaleToResidualNorm, add.PreserveNorm); break;
                        case ProjectOut ablate: SteeringMath.ProjectOut(row, ablate.Direction); break;
                    }
                }
            }
        }
        if (_capture.Contains(hook) && hook.Slot < 0)
            _captured[hook] = new Span<float>(rows, _stream.Rows * width).ToArray();
    }

    public void Store(HookId hook, float[] values) => _captured[hook] = values;

    private IEnumerable<(int Row, SteeringOperation Op)> RowOperations(HookId hook)
    {
        for (int s = 0; s < _plans.Length; s++)
        {
            if (_plans[s] is not { } plan) continue;
            var seq = _stream.Sequences[s];
            foreach (var op in plan.Operations)
                if (op.Hook == hook)
                    for (int t = 0; t < seq.Count; t++)
                        if (op.Positions.Includes(seq.FirstPosition + t, _promptLengths[s])) yield return (seq.FirstRow + t, op);
        }
    }

    /// <summary>Whether any operation at this point needs the row's own norm (done on the host by a device run).</summary>
    public bool NeedsHost(HookId hook) =>
        _plans.Any(p => p != null && p.Operations.Any(op => op.Hook == hook && op is AddVector { ScaleToResidualNorm: true } or AddVector { PreserveNorm: true }));

    /// <summary>(row, vector, coefficient) for every plain addition at this point, in plan order.</summary>
    public IEnumerable<(int Row, float[] Vector, float Coefficient)> Additions(HookId hook) =>
        RowOperations(hook).Where(x => x.Op is AddVector).Select(x => (x.Row, ((AddVector)x.Op).Vector, ((AddVector)x.Op).Coefficient));

    /// <summary>(row, direction) for every ablation at this point, in plan order.</summary>
    public IEnumerable<(int Row, float[] Direction)> Ablations(HookId hook) =>
        RowOperations(hook).Where(x => x.Op is ProjectOut).Select(x => (x.Row, ((ProjectOut)x.Op).Direction));

    public bool HasOperations(HookId hook) => _steered.Contains(hook);
}
