using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Generation;

/// <summary>
/// Continues several prompts at once: one ragged prefill, then one decode step per token for the sequences that
/// are still running, each with its own KV cache and its own seeded sampler.
/// </summary>
public sealed class Generator(Transformer model)
{
    /// <summary>Called after each step with (prompt index, new token id).</summary>
    public delegate void TokenCallback(int prompt, int token);

    public IReadOnlyList<GenerationOutput> Generate(IReadOnlyList<int[]> prompts, GenerationOptions options, TokenCallback? onToken = null)
    {
        options.Validate();
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i].Length == 0)
                throw new NativeLayersException($"prompt {i} has no tokens; give at least one (for example the BOS token).");
        var stop = new HashSet<int>(options.StopTokens ?? model.Folder.EosTokenIds);
        var sequences = prompts.Select(p => model.NewSequence(p.Length + options.MaxNewTokens)).ToArray();
        var random = prompts.Select((_, i) => new Random(options.Seed + i)).ToArray();
        var produced = prompts.Select(_ => new List<int>()).ToArray();
        var reasons = prompts.Select(_ => StopReason.MaxTokens).ToArray();
        if (options.MaxNewTokens == 0)
            return prompts.Select((p, i) => new GenerationOutput(p, [], StopReason.MaxTokens)).ToList();

        if (options.PromptSteering is { } p && p.Count != prompts.Count)
            throw new NativeLayersException($"{p.Count} steering plans for {prompts.Count} prompts; give one (or null) per prompt.");
        var plans = prompts.Select((_, i) => options.PromptSteering?[i] ?? options.Steering).ToArray();
        ForwardOptions Step(IEnumerable<int> indices) => new() { Logits = LogitsMode.LastPerSequence, SequenceSteering = indices.Select(i => plans[i]).ToArray(), HostSlots = [] };

        var active = Enumerable.Range(0, prompts.Count).ToList();
        var result = model.Forward(sequences, prompts, Step(active));
        while (active.Count > 0)
        {
            var next = new List<int>();
            for (int a = 0; a < active.Count; a++)
            {
                int i = active[a];
                int token = Sampling.Sample(result.LastLogits(a), options.Temperature, options.TopK, options.TopP, random[i]);
                produced[i].Add(token);
                onToken?.Invoke(i, token);
                if (stop.Contains(token)) reasons[i] = StopReason.EndOfSequence;
                else if (produced[i].Count < options.MaxNewTokens) next.Add(i);
            }
            active = next;
            if (active.Count == 0) break;
            result = model.Forward(active.Select(i => sequences[i]).ToArray(), active.Select(i => new[] { produced[i][^1] }).ToArray(), Step(active));
        }
        return prompts.Select((p, i) => new GenerationOutput(p, produced[i].ToArray(), reasons[i])).ToList();
    }
}
