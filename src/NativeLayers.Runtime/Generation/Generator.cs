using System.Numerics.Tensors;
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
        int context = model.Config.MaxPositions;
        if (!options.AllowContextOverflow && prompts.Select((p, i) => (Length: (long)p.Length + options.MaxNewTokens, Index: i)).FirstOrDefault(x => x.Length > context) is { Length: > 0 } over)
            throw new NativeLayersException($"prompt {over.Index} ({prompts[over.Index].Length} tokens) plus {options.MaxNewTokens} new tokens would run past the {context} positions of " +
                $"{model.Folder.Directory} (max_position_embeddings); ask for fewer new tokens, shorten the prompt, or allow running past the context (--allow-overflow-context).");
        if (options.MaxNewTokens == 0)
            return prompts.Select((p, i) => new GenerationOutput(p, [], StopReason.MaxTokens)).ToList();
        var stop = new HashSet<int>(options.StopTokens ?? model.Folder.EosTokenIds);
        // Caches start at the prompt's size and grow as tokens are made: memory follows the tokens actually generated.
        var sequences = prompts.Select(p => model.NewSequence(p.Length)).ToArray();
        var decoders = prompts.Select((_, i) => new SequenceDecoder(options.Temperature, options.TopK, options.TopP, options.Seed + i, stop, options.MaxNewTokens)).ToArray();

        if (options.PromptSteering is { } p && p.Count != prompts.Count)
            throw new NativeLayersException($"{p.Count} steering plans for {prompts.Count} prompts; give one (or null) per prompt.");
        var plans = prompts.Select((_, i) => options.PromptSteering?[i] ?? options.Steering).ToArray();
        ForwardOptions Step(IEnumerable<int> indices) => new()
        {
            Logits = LogitsMode.LastPerSequence, SequenceSteering = indices.Select(i => plans[i]).ToArray(), HostSlots = [],
            AllowContextOverflow = options.AllowContextOverflow,
        };

        var active = Enumerable.Range(0, prompts.Count).ToList();
        var result = model.Forward(sequences, prompts, Step(active));
        while (active.Count > 0)
        {
            var next = new List<int>();
            for (int a = 0; a < active.Count; a++)
            {
                int i = active[a];
                var logits = result.LastLogits(a);
                if (!TensorPrimitives.IsFiniteAll(logits)) throw NonFiniteOutputs.Diagnose(model, [.. prompts[i], .. decoders[i].Produced]);
                int token = decoders[i].Next(logits);
                onToken?.Invoke(i, token);
                if (decoders[i].Stopped == null) next.Add(i);
            }
            active = next;
            if (active.Count == 0) break;
            result = model.Forward(active.Select(i => sequences[i]).ToArray(), active.Select(i => new[] { decoders[i].Produced[^1] }).ToArray(), Step(active));
        }
        return prompts.Select((p, i) => new GenerationOutput(p, [.. decoders[i].Produced], decoders[i].Stopped ?? StopReason.MaxTokens)).ToList();
    }
}
