using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Steering;

/// <summary>When a condition holds: the similarity above the threshold (Greater) or below it (Less).</summary>
public enum ConditionComparison { Greater, Less }

/// <summary>How the prompt's rows become one vector for the condition: their mean, or the last row.</summary>
public enum ConditionReduction { Mean, Last }

/// <summary>
/// Conditional activation steering (CAST, Lee et al. 2024), with the rule of IBM's activation-steering (LeashLayer):
/// the prompt's residual h after block <see cref="Layer"/> (mean over its tokens, or the last) is projected on the
/// condition direction v and squashed, p = tanh(v (v·h) / (v·v)); the condition's similarity is cos(h, p); the condition
/// holds when it is above (Greater) or below (Less) <see cref="Threshold"/>. A sequence whose condition holds is
/// steered, prompt and generation alike; the others run unsteered, in the same batch.
/// </summary>
public sealed record SteeringCondition(float[] Vector, int Layer, double Threshold, ConditionComparison Compare = ConditionComparison.Greater,
    ConditionReduction Reduction = ConditionReduction.Mean)
{
    public bool Holds(double similarity) => Compare == ConditionComparison.Greater ? similarity > Threshold : similarity < Threshold;

    /// <summary>cos(h, tanh(P h)) with P = v vᵀ / vᵀv, for [tokens, width] rows reduced as <paramref name="reduction"/> says.</summary>
    public static double Similarity(ReadOnlySpan<float> rows, int width, float[] vector, ConditionReduction reduction)
    {
        int tokens = rows.Length / width;
        if (tokens == 0) throw new NativeLayersException("the condition needs at least one prompt token.");
        var h = new double[width];
        if (reduction == ConditionReduction.Last)
            for (int i = 0; i < width; i++) h[i] = rows[(tokens - 1) * width + i];
        else
            for (int t = 0; t < tokens; t++)
                for (int i = 0; i < width; i++) h[i] += rows[t * width + i] / (double)tokens;
        double vh = 0, vv = 0;
        for (int i = 0; i < width; i++) { vh += vector[i] * h[i]; vv += (double)vector[i] * vector[i]; }
        double dot = 0, hh = 0, pp = 0;
        for (int i = 0; i < width; i++)
        {
            double p = Math.Tanh(vector[i] * vh / vv);
            dot += h[i] * p;
            hh += h[i] * h[i];
            pp += p * p;
        }
        return hh > 0 && pp > 0 ? dot / Math.Sqrt(hh * pp) : 0;
    }

    /// <summary>The condition's similarity for each prompt, from one batched forward that keeps only the slot it reads.</summary>
    public double[] Similarities(Transformer model, IReadOnlyList<int[]> prompts)
    {
        if (Vector.Length != model.Width)
            throw new NativeLayersException($"the condition vector has {Vector.Length} values, but the model's width is {model.Width}.");
        if (Layer < 0 || Layer >= model.Layers)
            throw new NativeLayersException($"the condition reads the residual after block {Layer}; this model has blocks 0..{model.Layers - 1}.");
        int slot = Layer + 1;
        var result = model.Forward(prompts, new ForwardOptions { HostSlots = [slot], Logits = LogitsMode.None, StopAtSlot = slot });
        return prompts.Select((p, s) => Similarity(result.Residual.SequenceSlot(slot, s), model.Width, Vector, Reduction)).ToArray();
    }
}
