using NativeLayers.Runtime;

namespace NativeLayers.Tests;

/// <summary>Runs a prompt then feeds the given tokens one at a time through the KV cache, returning each step's logits.</summary>
public static class GreedyDecoder
{
    public static List<float[]> StepLogits(Transformer model, int[] prompt, int[] continuation)
    {
        var sequence = model.NewSequence();
        var logits = new List<float[]>();
        var result = model.Forward([sequence], [prompt], LogitsMode.LastPerSequence);
        logits.Add(result.LastLogits(0).ToArray());
        foreach (int token in continuation.Take(continuation.Length - 1))
        {
            result = model.Forward([sequence], [[token]], LogitsMode.LastPerSequence);
            logits.Add(result.LastLogits(0).ToArray());
        }
        return logits;
    }
}
