using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Saes;

/// <summary>One place a feature fired: the prompt, the token position and the activation there.</summary>
public readonly record struct FeatureExample(int Prompt, int Position, float Value);

/// <summary>A feature's strongest examples (highest first), how often it fired and its largest activation.</summary>
public sealed record FeatureContexts(int Feature, IReadOnlyList<FeatureExample> Examples, long Firings, float Max);

/// <summary>What a feature dashboard is built from: every feature's top examples over a prompt set, and the tokens seen.</summary>
public sealed record TopContextsResult(IReadOnlyList<FeatureContexts> Features, long Tokens, int Prompts);

/// <summary>
/// Streams prompts through the model and the SAE and keeps, for every feature, its <c>top</c> highest activations in a
/// bounded heap (memory grows with d_sae × top, not with the data), plus firing counts.
/// </summary>
public static class SaeTopContexts
{
    public static TopContextsResult Run(Transformer model, SparseAutoencoder sae, IReadOnlyList<int[]> prompts, int top,
        IProgress<(int Done, int Total)>? progress = null)
    {
        if (top < 1) throw new ArgumentOutOfRangeException(nameof(top), "keep at least one example per feature.");
        var hook = SaeEvaluation.HookOf(model, sae);
        int features = sae.Features;
        var heaps = new PriorityQueue<FeatureExample, float>?[features];
        var firings = new long[features];
        var max = new float[features];
        long tokens = 0;
        for (int p = 0; p < prompts.Count; p++)
        {
            var (x, _) = SaeEvaluation.HookRows(model, hook, prompts[p]);
            var acts = sae.Encode(x).Features;
            for (int t = 0; t < prompts[p].Length; t++)
                for (int f = 0; f < features; f++)
                {
                    float a = acts[t * features + f];
                    if (a <= 0) continue;
                    firings[f]++;
                    max[f] = Math.Max(max[f], a);
                    var heap = heaps[f] ??= new PriorityQueue<FeatureExample, float>();
                    if (heap.Count < top) heap.Enqueue(new FeatureExample(p, t, a), a);
                    else if (heap.TryPeek(out _, out float smallest) && a > smallest) heap.EnqueueDequeue(new FeatureExample(p, t, a), a);
                }
            tokens += prompts[p].Length;
            progress?.Report((p + 1, prompts.Count));
        }
        var result = new FeatureContexts[features];
        for (int f = 0; f < features; f++)
        {
            var examples = heaps[f]?.UnorderedItems.Select(e => e.Element).OrderByDescending(e => e.Value).ThenBy(e => e.Prompt).ThenBy(e => e.Position).ToList() ?? [];
            result[f] = new FeatureContexts(f, examples, firings[f], max[f]);
        }
        return new TopContextsResult(result, tokens, prompts.Count);
    }
}
