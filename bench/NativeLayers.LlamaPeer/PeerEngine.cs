namespace NativeLayers.LlamaPeer;

/// <summary>One engine under test, driven by token ids only (tokenizers play no part).</summary>
public interface IPeerEngine : IDisposable
{
    string Name { get; }

    /// <summary>One fresh sequence of these tokens through the model, logits for the last one.</summary>
    void Prefill(int[] tokens);

    /// <summary>Prefills <paramref name="prompt"/> (untimed), then feeds <paramref name="steps"/> one token at a time; returns the seconds of the steps.</summary>
    double DecodeSeconds(int[] prompt, int[] steps);

    /// <summary>The greedy continuation of <paramref name="prompt"/> (argmax of the logits at every step, no stop tokens).</summary>
    int[] Greedy(int[] prompt, int steps);
}
