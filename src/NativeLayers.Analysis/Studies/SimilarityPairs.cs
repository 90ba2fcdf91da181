using System.Text.Json;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Studies;

/// <summary>Two texts and a graded similarity (STS-B's columns).</summary>
public sealed record ScoredPair(string Sentence1, string Sentence2, double Score);

/// <summary>Per-slot embedding quality on scored pairs: STS-style Spearman correlation and retrieval recall@1.</summary>
public sealed record PairScores(int[] Slots, double[] StsSpearman, double[] RetrievalRecallAt1, int Pairs);

/// <summary>
/// STS and retrieval scores of every residual slot, for embedding models: each text is its slot's mean over tokens
/// (MeanPool, §0.3, sentence-transformers' pooling); STS = Spearman correlation between cos(sentence1, sentence2) and
/// the gold score; retrieval = the fraction of sentence1s whose nearest sentence2 by cosine is their own.
/// </summary>
public static class SimilarityPairs
{
    public static IReadOnlyList<ScoredPair> Read(string path, EncodingErrors errors = EncodingErrors.Strict)
    {
        var items = JsonLines.Read(path, "scored pairs", "{\"sentence1\": \"...\", \"sentence2\": \"...\", \"score\": number}", root =>
            root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("sentence1", out var a) && a.ValueKind == JsonValueKind.String
            && root.TryGetProperty("sentence2", out var b) && b.ValueKind == JsonValueKind.String
            && root.TryGetProperty("score", out var s) && s.TryGetDouble(out double score) && double.IsFinite(score)
                ? new ScoredPair(a.GetString()!, b.GetString()!, score) : null, errors);
        if (items.Count < 3) throw new ModelFileException(path, $"{items.Count} scored pairs; STS and retrieval need at least 3.");
        return items;
    }

    public static PairScores Run(Transformer model, IReadOnlyList<ScoredPair> pairs)
    {
        var slots = Enumerable.Range(0, model.Layers + 1).ToArray();
        var rows = new ActivationOptions { Rows = TokenRows.MeanOfTokens, Slots = slots };
        var a = LayerActivations.Collect(model, pairs.Select(p => model.Tokenizer.Encode(p.Sentence1)).ToArray(), rows);
        var b = LayerActivations.Collect(model, pairs.Select(p => model.Tokenizer.Encode(p.Sentence2)).ToArray(), rows);
        var gold = pairs.Select(p => p.Score).ToArray();
        var sts = new double[slots.Length];
        var recall = new double[slots.Length];
        for (int k = 0; k < slots.Length; k++)
        {
            var cos = Cosines(a[k], b[k]);
            sts[k] = Spearman(Enumerable.Range(0, pairs.Count).Select(i => cos[i, i]).ToArray(), gold);
            int hits = 0;
            for (int i = 0; i < pairs.Count; i++)
            {
                int best = 0;
                for (int j = 1; j < pairs.Count; j++) if (cos[i, j] > cos[i, best]) best = j;
                if (best == i) hits++;
            }
            recall[k] = (double)hits / pairs.Count;
        }
        return new PairScores(slots, sts, recall, pairs.Count);
    }

    private static double[,] Cosines(Matrix a, Matrix b)
    {
        var m = new double[a.Rows, b.Rows];
        for (int i = 0; i < a.Rows; i++)
            for (int j = 0; j < b.Rows; j++)
            {
                double dot = 0, na = 0, nb = 0;
                var x = a.Row(i);
                var y = b.Row(j);
                for (int d = 0; d < x.Length; d++) { dot += x[d] * y[d]; na += x[d] * x[d]; nb += y[d] * y[d]; }
                m[i, j] = dot / Math.Sqrt(na * nb);
            }
        return m;
    }

    /// <summary>Pearson correlation of the ranks (ties share their mean rank).</summary>
    public static double Spearman(double[] x, double[] y)
    {
        double[] rx = Ranks(x), ry = Ranks(y);
        double mx = rx.Average(), my = ry.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++) { sxy += (rx[i] - mx) * (ry[i] - my); sxx += (rx[i] - mx) * (rx[i] - mx); syy += (ry[i] - my) * (ry[i] - my); }
        return sxx > 0 && syy > 0 ? sxy / Math.Sqrt(sxx * syy) : double.NaN;
    }

    private static double[] Ranks(double[] v)
    {
        var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        var ranks = new double[v.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && v[order[end + 1]] == v[order[start]]) end++;
            for (int k = start; k <= end; k++) ranks[order[k]] = (start + end) / 2.0 + 1;
            start = end + 1;
        }
        return ranks;
    }
}
