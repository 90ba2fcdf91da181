namespace NativeLayers.Runtime.ForwardPass;

/// <summary>
/// Mixtral's top-k routing, as Hugging Face computes it: p = softmax(router logits) over all experts (float32), the k
/// largest p per token (ties: the lower expert first), renormalised to sum to 1. Produces, per expert, the rows that
/// chose it and their weights, ready to gather, run and scatter back.
/// </summary>
internal sealed class ExpertRouting
{
    public required int[][] Rows { get; init; }
    public required float[][] Weights { get; init; }
    /// <summary>[rows, k] chosen experts, highest weight first.</summary>
    public required int[] Chosen { get; init; }

    public static ExpertRouting Route(ReadOnlySpan<float> logits, int rows, int experts, int perToken)
    {
        var rowsOf = Enumerable.Range(0, experts).Select(_ => new List<int>()).ToArray();
        var weightsOf = Enumerable.Range(0, experts).Select(_ => new List<float>()).ToArray();
        var chosen = new int[rows * perToken];
        Span<float> p = stackalloc float[experts];
        Span<int> top = stackalloc int[perToken];
        for (int r = 0; r < rows; r++)
        {
            var row = logits.Slice(r * experts, experts);
            float max = float.NegativeInfinity, sum = 0;
            foreach (float z in row) max = Math.Max(max, z);
            for (int e = 0; e < experts; e++) sum += p[e] = MathF.Exp(row[e] - max);
            for (int e = 0; e < experts; e++) p[e] /= sum;
            float picked = 0;
            for (int k = 0; k < perToken; k++)
            {
                int best = -1;
                for (int e = 0; e < experts; e++)
                    if (top[..k].IndexOf(e) < 0 && (best < 0 || p[e] > p[best])) best = e;
                top[k] = best;
                picked += p[best];
            }
            for (int k = 0; k < perToken; k++)
            {
                chosen[r * perToken + k] = top[k];
                rowsOf[top[k]].Add(r);
                weightsOf[top[k]].Add(p[top[k]] / picked);
            }
        }
        return new ExpertRouting { Rows = rowsOf.Select(l => l.ToArray()).ToArray(), Weights = weightsOf.Select(l => l.ToArray()).ToArray(), Chosen = chosen };
    }
}
