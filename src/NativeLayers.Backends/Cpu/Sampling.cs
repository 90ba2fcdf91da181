using System.Numerics.Tensors;

namespace NativeLayers.Backends.Cpu;

/// <summary>Choosing the next token from a row of logits: greedy, or temperature / top-k / top-p sampling.</summary>
public static class Sampling
{
    /// <summary>Index of the first maximum (ties go to the lowest id, as llama2.c and torch.argmax do).</summary>
    public static int Argmax(ReadOnlySpan<float> logits) => TensorPrimitives.IndexOfMax(logits);

    /// <summary>Numerically stable softmax of logits / temperature, in place.</summary>
    public static void Softmax(Span<float> values, float temperature = 1f)
    {
        if (temperature != 1f) TensorPrimitives.Divide(values, temperature, values);
        float max = TensorPrimitives.Max(values);
        TensorPrimitives.Subtract(values, max, values);
        TensorPrimitives.Exp(values, values);
        float sum = TensorPrimitives.Sum(values);
        TensorPrimitives.Divide(values, sum, values);
    }

    /// <summary>
    /// Samples an id. temperature ≤ 0 means greedy. topK ≤ 0 and topP ≥ 1 disable those filters; they apply in
    /// Hugging Face's order (temperature, then top-k, then top-p with the most probable token always kept).
    /// </summary>
    public static int Sample(ReadOnlySpan<float> logits, float temperature, int topK, float topP, Random random)
    {
        if (temperature <= 0) return Argmax(logits);
        var probs = logits.ToArray();
        Softmax(probs, temperature);
        var order = Enumerable.Range(0, probs.Length).ToArray();
        Array.Sort(order, (a, b) => probs[b] != probs[a] ? probs[b].CompareTo(probs[a]) : a.CompareTo(b));
        int keep = topK > 0 ? Math.Min(topK, order.Length) : order.Length;
        if (topP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probs[order[i]];
                if (cumulative >= topP) { keep = i + 1; break; }
            }
        }
        double total = 0;
        for (int i = 0; i < keep; i++) total += probs[order[i]];
        double u = random.NextDouble() * total, acc = 0;
        for (int i = 0; i < keep; i++)
        {
            acc += probs[order[i]];
            if (u < acc) return order[i];
        }
        return order[keep - 1];
    }
}
