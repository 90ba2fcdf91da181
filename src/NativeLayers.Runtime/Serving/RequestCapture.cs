using NativeLayers.Loading;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Serving;

/// <summary>
/// The capture plan of one running request: after each forward step it copies the request's selected rows out of
/// the batch's stream, and hands them out with the next token (or, reduced, with the last one).
/// </summary>
internal sealed class RequestCapture
{
    private readonly CapturePlan _plan;
    private readonly int _promptLength;
    private readonly Dictionary<HookId, HookRows> _rows;

    public RequestCapture(CapturePlan plan, int promptLength)
    {
        if (plan.Tokens.Kind is TokenSelectionKind.Mask or TokenSelectionKind.Explicit)
            throw new NativeLayersException("a request's capture selects tokens with all, last, first, prompt, generated, last-prompt or from:P; masks and explicit positions need the whole sequence up front.");
        _plan = plan;
        _promptLength = promptLength;
        _rows = plan.Hooks.Distinct().ToDictionary(h => h, _ => new HookRows());
    }

    public IEnumerable<HookId> Hooks => _rows.Keys;

    /// <summary>Copies this step's selected rows of sequence <paramref name="index"/>; <paramref name="samples"/>: the step chooses a token.</summary>
    public void Read(ForwardResult result, int index, bool samples)
    {
        var rows = result.Residual.Sequences[index];
        int end = rows.FirstPosition + rows.Count;
        var selected = new List<int>();
        for (int t = 0; t < rows.Count; t++)
        {
            bool keep = _plan.Tokens.Kind == TokenSelectionKind.Last
                ? samples && t == rows.Count - 1
                : _plan.Tokens.Includes(0, rows.FirstPosition + t, _promptLength, end);
            if (keep) selected.Add(t);
        }
        if (selected.Count == 0) return;
        foreach (var (hook, kept) in _rows)
        {
            var values = result.Read(hook);
            int width = values.Length / result.Residual.Rows;
            foreach (int t in selected)
                kept.Add(values.Slice((rows.FirstRow + t) * width, width), rows.FirstPosition + t, _plan.Reduction);
        }
    }

    /// <summary>What comes with the token just chosen: the rows read since the last token, or on the final token the reduced rows.</summary>
    public IReadOnlyList<CapturedTensor> Take(bool final)
    {
        if (_plan.Reduction != Reduction.None && !final) return [];
        var tensors = new List<CapturedTensor>();
        foreach (var (hook, kept) in _rows)
            if (kept.Take(_plan.Reduction) is { } tensor) tensors.Add(tensor with { Hook = hook });
        return tensors;
    }

    /// <summary>Rows of one point: kept one by one, or summed (mean), or only the newest (last).</summary>
    private sealed class HookRows
    {
        private readonly List<float> _values = [];
        private readonly List<int> _positions = [];
        private double[]? _sum;
        private int _count, _width;

        public void Add(ReadOnlySpan<float> row, int position, Reduction reduction)
        {
            _width = row.Length;
            _count++;
            switch (reduction)
            {
                case Reduction.None:
                    foreach (float x in row) _values.Add(x);
                    _positions.Add(position);
                    break;
                case Reduction.Mean:
                    _sum ??= new double[row.Length];
                    for (int i = 0; i < row.Length; i++) _sum[i] += row[i];
                    _positions.Clear();
                    _positions.Add(position);
                    break;
                case Reduction.Last:
                    _values.Clear();
                    _values.AddRange(row);
                    _positions.Clear();
                    _positions.Add(position);
                    break;
            }
        }

        public CapturedTensor? Take(Reduction reduction)
        {
            if (_count == 0) return null;
            float[] data = reduction == Reduction.Mean ? _sum!.Select(s => (float)(s / _count)).ToArray() : [.. _values];
            int rows = data.Length / _width;
            var tensor = new CapturedTensor(default, data, rows, _width, [rows], [.. _positions]);
            _values.Clear();
            _positions.Clear();
            _sum = null;
            _count = 0;
            return tensor;
        }
    }
}
