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
        if (topK <= 0 && topP >= 1f) return Draw(probs, Enumerable.Range(0, probs.Length).ToArray(), probs.Length, random);

        int[] order = MostProbable(probs, topK > 0 ? Math.Min(topK, probs.Length) : probs.Length);
        int keep = order.Length;
        if (topP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probs[order[i]];
                if (cumulative >= topP) { keep = i + 1; break; }
            }
        }
        return Draw(probs, order, keep, random);
    }

    /// <summary>The ids of the k highest scores (probabilities or logits), highest first (ties: lower id first); O(V log k) through a bounded heap.</summary>
    public static int[] MostProbable(ReadOnlySpan<float> probs, int k)
    {
        var heap = new PriorityQueue<int, (float P, int NegId)>(k + 1);
        for (int id = 0; id < probs.Length; id++)
        {
            heap.Enqueue(id, (probs[id], -id));
            if (heap.Count > k) heap.Dequeue(); // drop the least probable (the higher id on ties)
        }
        var result = new int[heap.Count];
        for (int i = result.Length - 1; i >= 0; i--) result[i] = heap.Dequeue();
        return result;
    }

    /// <summary>log softmax(logits) at each of <paramref name="ids"/>: the model's own log-probabilities, before temperature or filters.</summary>
    public static float[] LogProbabilities(ReadOnlySpan<float> logits, ReadOnlySpan<int> ids)
    {
        float max = TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        float logSum = max + (float)Math.Log(sum);
        var result = new float[ids.Length];
        for (int i = 0; i < ids.Length; i++) result[i] = logits[ids[i]] - logSum;
        return result;
    }

    /// <summary>Draws one of candidates[0..count) with probability proportional to probs.</summary>
    private static int Draw(float[] probs, int[] candidates, int count, Random random)
    {
        double total = 0;
        for (int i = 0; i < count; i++) total += probs[candidates[i]];
        double u = random.NextDouble() * total, acc = 0;
        for (int i = 0; i < count; i++)
        {
            acc += probs[candidates[i]];
            if (u < acc) return candidates[i];
        }
        return candidates[count - 1];
    }
}
