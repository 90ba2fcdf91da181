using System.Numerics.Tensors;
using NativeLayers.Backends;

namespace NativeLayers.Runtime.Hooks;

/// <summary>
/// Carries out a <see cref="HookSchedule"/> on any backend through the op interface: tables through the residual-add
/// op, ablations through the projection-out op, norm-relative additions on host copies of the rows; captures of
/// computed points are copied to host arrays; folded biases are built once per plan version and kept by the backend.
/// </summary>
internal sealed class HookApplier(IComputeBackend backend, HookSchedule schedule, int rows, int width)
{
    private readonly Dictionary<HookId, float[]> _captured = new();

    public HookSchedule Schedule => schedule;
    public IReadOnlyDictionary<HookId, float[]> Captured => _captured;

    /// <summary>Applies the point's steps to <paramref name="values"/> ([rows, width]) and captures it when asked (computed points only).</summary>
    public void Apply(HookId hook, BufferView values)
    {
        foreach (var step in schedule.Steps(hook))
            switch (step)
            {
                case AddStep add: backend.ResidualAdd(values, values, null, add.Table, rows, width); break;
                case ProjectStep ablate: backend.ProjectOut(values, width, ablate.Direction, ablate.Rows); break;
                case HostStep host: ApplyOnHost(host, values); break;
                case TransformStep transform: ApplyTransform(transform, values); break;
                case SetStep set:
                    foreach (var (row, source, offset) in set.Rows) backend.Upload(source.AsSpan(offset, width), values.At((long)row * width));
                    break;
            }
        if (hook.Slot < 0 && schedule.Captures(hook)) Store(hook, values);
    }

    /// <summary>Keeps host values of a point that is not [rows, width] (router logits, expert ids) when it is captured.</summary>
    public void StoreIfCaptured(HookId hook, float[] values)
    {
        if (schedule.Captures(hook)) _captured[hook] = values;
    }

    public void Store(HookId hook, BufferView values)
    {
        var host = new float[rows * width];
        backend.Download(values, host);
        _captured[hook] = host;
    }

    private void ApplyOnHost(HostStep step, BufferView values)
    {
        var host = new float[rows * width];
        backend.Download(values, host);
        foreach (var (row, add) in step.Rows)
            SteeringMath.Add(host.AsSpan(row * width, width), add.Vector, add.Coefficient, add.ScaleToResidualNorm, add.PreserveNorm);
        backend.Upload(host, values);
    }

    private void ApplyTransform(TransformStep step, BufferView values)
    {
        var host = new float[rows * width];
        backend.Download(values, host);
        var selected = new float[step.Rows.Length * width];
        for (int i = 0; i < step.Rows.Length; i++) host.AsSpan(step.Rows[i] * width, width).CopyTo(selected.AsSpan(i * width, width));
        step.Transform.Apply(selected, step.Positions);
        for (int i = 0; i < step.Rows.Length; i++) selected.AsSpan(i * width, width).CopyTo(host.AsSpan(step.Rows[i] * width, width));
        backend.Upload(host, values);
    }

    /// <summary>The projection's bias plus the additions folded into it for this output, or null when none fold.</summary>
    public BackendBuffer? FoldedBias(Linear projection, HookId output)
    {
        if (schedule.Folded(output) is not { } folded) return null;
        return backend.Constants.Get(folded.Plan, folded.Plan.Version, (projection, output, folded.WithResidual), () =>
        {
            var bias = new float[projection.OutFeatures];
            projection.Bias?.Span.CopyTo(bias);
            foreach (var add in folded.Additions) TensorPrimitives.MultiplyAdd(add.Vector, add.Coefficient, bias, bias);
            var buffer = backend.Allocate(bias.Length);
            backend.Upload(bias, buffer);
            return buffer;
        });
    }
}
