using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Saes;

/// <summary>
/// How well an SAE stands in for its hook point over a prompt set: sparsity (L0), fraction of variance unexplained,
/// cosine of the reconstruction, the next-token cross-entropy with the reconstruction spliced in against the clean
/// model and against zero-ablating the point (CE loss recovered = (zero − spliced) / (zero − clean)), and features that
/// never fire (dead) or fire on more than a tenth of the tokens (dense).
/// </summary>
public sealed record SaeEvaluationResult(double L0, double Fvu, double Cosine, double CeLossClean, double CeLossSpliced, double CeLossZeroAblated,
    int DeadFeatures, int DenseFeatures, long Tokens, int Prompts)
{
    public double CeLossRecovered => (CeLossZeroAblated - CeLossSpliced) / (CeLossZeroAblated - CeLossClean);
}

public static class SaeEvaluation
{
    public const double DenseFrequency = 0.1;

    /// <summary>Where a hook of this SAE lives in <paramref name="model"/>, checked against its width.</summary>
    public static HookId HookOf(Transformer model, SparseAutoencoder sae)
    {
        var hook = HookId.Parse(sae.HookName, model.Layers);
        if (hook.IsModelLevel)
            throw new NativeLayersException($"{sae.Source} reads {sae.HookName}; SAEs on block points (resid_pre/mid/post, attn_out, mlp_out, mixer_out) are supported.");
        HookId.RequireExists(hook, model.Shape, $"{sae.Source} reads");
        if (sae.InputWidth != model.Width)
            throw new NativeLayersException($"{sae.Source} reads {sae.InputWidth} values (d_in), but {hook.Name} of {model.Folder.Directory} is {model.Width} wide.");
        return hook;
    }

    /// <summary>The hook point's rows of one prompt, and the clean run they came from.</summary>
    public static (float[] Rows, ForwardResult Clean) HookRows(Transformer model, HookId hook, int[] tokens, LogitsMode logits = LogitsMode.None)
    {
        var result = model.Forward([tokens], new ForwardOptions { Capture = hook.Slot < 0 ? [hook] : null, Logits = logits });
        return ((hook.Slot >= 0 ? result.Residual.Slot(hook.Slot) : result.Read(hook)).ToArray(), result);
    }

    public static SaeEvaluationResult Run(Transformer model, SparseAutoencoder sae, IReadOnlyList<int[]> prompts, IProgress<(int Done, int Total)>? progress = null)
    {
        if (!model.HasLanguageModelHead) throw new NativeLayersException($"{model.Folder.Directory} has no language-model head; the evaluation compares next-token losses.");
        var hook = HookOf(model, sae);
        int d = sae.InputWidth;
        var firing = new long[sae.Features];
        double l0 = 0, cosine = 0, residualSquares = 0, squares = 0, clean = 0, spliced = 0, zero = 0;
        var sums = new double[d];
        long tokens = 0, predicted = 0;
        for (int p = 0; p < prompts.Count; p++)
        {
            var ids = prompts[p];
            if (ids.Length < 2) throw new NativeLayersException($"prompt {p} has {ids.Length} token(s); the next-token loss needs at least 2.");
            var (x, cleanRun) = HookRows(model, hook, ids, LogitsMode.All);
            var encoding = sae.Encode(x);
            var reconstruction = sae.Decode(encoding);
            for (int t = 0; t < ids.Length; t++)
            {
                var row = x.AsSpan(t * d, d);
                var recon = reconstruction.AsSpan(t * d, d);
                var acts = encoding.Features.AsSpan(t * sae.Features, sae.Features);
                for (int f = 0; f < acts.Length; f++)
                    if (acts[f] != 0) { firing[f]++; l0++; }
                double dot = 0, xx = 0, rr = 0;
                for (int i = 0; i < d; i++)
                {
                    double e = row[i] - recon[i];
                    residualSquares += e * e;
                    squares += (double)row[i] * row[i];
                    sums[i] += row[i];
                    dot += (double)row[i] * recon[i];
                    xx += (double)row[i] * row[i];
                    rr += (double)recon[i] * recon[i];
                }
                cosine += xx > 0 && rr > 0 ? dot / Math.Sqrt(xx * rr) : 0;
            }
            tokens += ids.Length;
            predicted += ids.Length - 1;
            clean += CrossEntropy(cleanRun.Logits!, ids, model.VocabSize);
            spliced += CrossEntropy(Replaced(model, hook, cleanRun, ids, reconstruction), ids, model.VocabSize);
            zero += CrossEntropy(Replaced(model, hook, cleanRun, ids, new float[reconstruction.Length]), ids, model.VocabSize);
            progress?.Report((p + 1, prompts.Count));
        }
        double meanSquares = sums.Sum(s => s * s) / tokens;
        return new SaeEvaluationResult(l0 / tokens, residualSquares / (squares - meanSquares), cosine / tokens, clean / predicted, spliced / predicted,
            zero / predicted, firing.Count(n => n == 0), firing.Count(n => n > DenseFrequency * tokens), tokens, prompts.Count);
    }

    /// <summary>Logits of the prompt with the hook's rows replaced at every position, resumed from the clean run at the hook's block.</summary>
    private static float[] Replaced(Transformer model, HookId hook, ForwardResult cleanRun, int[] ids, float[] rows)
    {
        var plan = new SteeringPlan().Set(hook, Enumerable.Range(0, ids.Length).ToArray(), rows);
        var result = model.ForwardFrom(hook.Layer, [cleanRun.Residual.Slot(hook.Layer).ToArray()], [ids], new ForwardOptions { Steering = plan, Logits = LogitsMode.All });
        return result.Logits!;
    }

    /// <summary>Σ over positions t &lt; T − 1 of −log softmax(logits[t])[ids[t + 1]], the log-sum-exp in double.</summary>
    private static double CrossEntropy(float[] logits, int[] ids, int vocab)
    {
        double total = 0;
        for (int t = 0; t + 1 < ids.Length; t++)
        {
            var row = logits.AsSpan(t * vocab, vocab);
            double max = System.Numerics.Tensors.TensorPrimitives.Max(row), sum = 0;
            foreach (float z in row) sum += Math.Exp(z - max);
            total += max + Math.Log(sum) - row[ids[t + 1]];
        }
        return total;
    }
}
