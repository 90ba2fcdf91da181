using System.Diagnostics;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Generation;

namespace NativeLayers.LlamaPeer;

/// <summary>NativeLayers' CPU backend through the library API: Transformer.Load, Forward with a Sequence's KV cache, Generator.</summary>
public sealed class NativeLayersEngine(string modelDirectory, int threads) : IPeerEngine
{
    private readonly Transformer _model = Transformer.Load(modelDirectory, new RuntimeOptions { Threads = threads });

    public string Name => "NativeLayers";

    public void Prefill(int[] tokens) => _model.Forward([tokens], LogitsMode.LastPerSequence);

    public double DecodeSeconds(int[] prompt, int[] steps)
    {
        var sequence = _model.NewSequence(prompt.Length + steps.Length);
        _model.Forward([sequence], [prompt], LogitsMode.None);
        var clock = Stopwatch.StartNew();
        foreach (int token in steps) _model.Forward([sequence], [[token]], LogitsMode.LastPerSequence);
        return clock.Elapsed.TotalSeconds;
    }

    public int[] Greedy(int[] prompt, int steps) =>
        new Generator(_model).Generate([prompt], new GenerationOptions { MaxNewTokens = steps, Temperature = 0, StopTokens = [] })[0].NewIds;

    public void Dispose() => _model.Dispose();
}
