using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Similarity;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// Runs the per-layer metrics of metrics.md §2–§9 over a prompt set on a <see cref="Transformer"/>: batched forwards,
/// every residual slot R[0..L] read in float64 (§0.2), the last slot final-normed in PaperCompat mode (§0.1).
/// Prompt entropy and curvature are averaged over prompts (unnormalised in <see cref="LayerMetricsResult.Values"/>);
/// dataset entropy and effective rank use one pooled row per prompt; InfoNCE, LiDAR and DiME use pooled augmented
/// copies (§6). Memory: one batch's residual stream, plus N×D pooled rows per slot (and, for LiDAR, a D×D scatter per
/// slot) — token rows are never kept beyond their batch.
/// </summary>
public static class LayerMetrics
{
    /// <summary>Runs on text prompts (needed for the augmentation metrics), tokenised with the model's tokenizer.</summary>
    public static LayerMetricsResult Run(Transformer model, IReadOnlyList<string> prompts, LayerMetricsOptions options,
        IProgress<LayerMetricsProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        if (!model.HasTokenizer)
            throw new NativeLayersException($"{model.Folder.Directory} has no tokenizer, so text prompts cannot be encoded.");
        var ids = prompts.Select(p => Truncate(model.Tokenizer.Encode(p), options.MaxTokens)).ToArray();
        return RunCore(model, ids, prompts, options, progress);
    }

    /// <summary>Runs on token-id prompts (the augmentation metrics need text and are refused).</summary>
    public static LayerMetricsResult Run(Transformer model, IReadOnlyList<int[]> prompts, LayerMetricsOptions options,
        IProgress<LayerMetricsProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Metrics.FirstOrDefault(LayerMetricNames.NeedsAugmentations, (LayerMetric)(-1)) is var m && (int)m >= 0)
            throw new NativeLayersException($"{LayerMetricNames.Cli(m)} augments the prompts' text (§6); give text prompts, not token ids.");
        return RunCore(model, prompts.Select(p => Truncate(p, options.MaxTokens)).ToArray(), null, options, progress);
    }

    private static int[] Truncate(int[] ids, int max) => max > 0 && ids.Length > max ? ids[..max] : ids;

    private sealed class Accumulators(int slots)
    {
        public readonly double[] PeSum = new double[slots];
        public readonly double[][] PeNormSum = EntropyNormalizations.All.Select(_ => new double[slots]).ToArray();
        public readonly int[] PeCount = new int[slots];
        public readonly double[] CurvSum = new double[slots];
        public readonly int[] CurvCount = new int[slots];
    }

    private static LayerMetricsResult RunCore(Transformer model, int[][] ids, IReadOnlyList<string>? texts,
        LayerMetricsOptions options, IProgress<LayerMetricsProgress>? progress)
    {
        options.Validate();
        if (ids.Length == 0) throw new NativeLayersException("no prompts.");
        for (int i = 0; i < ids.Length; i++)
            if (ids[i].Length == 0) throw new NativeLayersException($"prompt {i + 1} encodes to no tokens.");
        var metrics = options.Metrics;
        bool paper = options.Mode == MetricMode.PaperCompat;
        int slots = model.Layers + 1, d = model.Width, n = ids.Length;
        var warnings = new List<string>();
        var values = new Dictionary<string, double[]>();
        var details = new Dictionary<string, double[]>();
        double[] Nan() => Enumerable.Repeat(double.NaN, slots).ToArray();

        bool wantPe = metrics.Contains(LayerMetric.PromptEntropy), wantCurv = metrics.Contains(LayerMetric.Curvature);
        bool wantDe = metrics.Contains(LayerMetric.DatasetEntropy), wantEr = metrics.Contains(LayerMetric.EffectiveRank);
        bool wantPooled = wantDe || wantEr;

        // ---- Pass 1: one forward per batch of prompts; per (prompt, slot) token-level metrics and pooled rows. ----
        if (wantPe || wantCurv || wantPooled)
        {
            var acc = new Accumulators(slots);
            double[][]? pooled = wantPooled ? Enumerable.Range(0, slots).Select(_ => new double[(long)n * d > Array.MaxLength
                ? throw new NativeLayersException($"{n} pooled rows of width {d} are too many for one array.") : n * d]).ToArray() : null;
            var pooledOk = wantPooled ? new bool[slots, n] : null;
            int zeroPooled = 0;
            var peSkipped = new int[slots];
            var curvSkipped = new int[slots];
            for (int start = 0; start < n; start += options.BatchSize)
            {
                int count = Math.Min(options.BatchSize, n - start);
                var batch = ids.AsSpan(start, count).ToArray();
                var captured = LayerActivations.CaptureSlots(model, batch, Enumerable.Range(0, slots).ToArray(), paper, TokenRows.EveryToken);
                var pe = new double[count, slots];
                var peNorm = new double[count, slots, EntropyNormalizations.All.Length];
                var curv = new double[count, slots];
                Parallel.For(0, count * slots, item =>
                {
                    int s = item / slots, slot = item % slots;
                    int t = batch[s].Length;
                    var z = Matrix.FromFloats(t, d, captured[slot].SequenceRows(s));
                    pe[s, slot] = double.NaN;
                    curv[s, slot] = double.NaN;
                    Matrix? zt = null;
                    bool tokenNormOk = false;
                    if (wantPe || wantCurv || (paper && wantPooled))
                        tokenNormOk = Preprocessing.TryTokenNorm(z, out zt) && t >= 2;
                    if (wantPe && tokenNormOk)
                    {
                        double h = PromptEntropy.FromTokenNormalized(zt!, options.Alpha, options.Mode);
                        pe[s, slot] = h;
                        for (int k = 0; k < EntropyNormalizations.All.Length; k++)
                            peNorm[s, slot, k] = EntropyNormalizations.Apply(h, EntropyNormalizations.All[k], t, d);
                    }
                    if (wantCurv && tokenNormOk && t >= 3) curv[s, slot] = Curvature.Compute(zt!, absolute: paper);
                    if (wantPooled)
                    {
                        double[] row = paper
                            ? (t >= 2 ? Preprocessing.MeanPool(Preprocessing.TokenNorm(z, MetricMode.PaperCompat)) : Enumerable.Repeat(double.NaN, d).ToArray())
                            : Preprocessing.MeanPool(z);
                        bool ok = DatasetEntropy.IsFinite(row);
                        pooledOk![slot, start + s] = ok;
                        if (ok) row.CopyTo(pooled![slot], (start + s) * d);
                    }
                });
                for (int s = 0; s < count; s++)
                {
                    if (paper && wantPooled && batch[s].Length == 2) zeroPooled++;
                    for (int slot = 0; slot < slots; slot++)
                    {
                        if (wantPe)
                        {
                            if (double.IsNaN(pe[s, slot])) peSkipped[slot]++;
                            else
                            {
                                acc.PeSum[slot] += pe[s, slot];
                                acc.PeCount[slot]++;
                                for (int k = 0; k < EntropyNormalizations.All.Length; k++) acc.PeNormSum[k][slot] += peNorm[s, slot, k];
                            }
                        }
                        if (wantCurv)
                        {
                            if (double.IsNaN(curv[s, slot])) curvSkipped[slot]++;
                            else { acc.CurvSum[slot] += curv[s, slot]; acc.CurvCount[slot]++; }
                        }
                    }
                }
                progress?.Report(new LayerMetricsProgress("forward", start + count, n));
            }

            if (wantPe)
            {
                var mean = Nan();
                for (int l = 0; l < slots; l++) if (acc.PeCount[l] > 0) mean[l] = acc.PeSum[l] / acc.PeCount[l];
                values["prompt_entropy"] = mean;
                details["prompt_entropy"] = mean;
                for (int k = 1; k < EntropyNormalizations.All.Length; k++)
                {
                    var v = Nan();
                    for (int l = 0; l < slots; l++) if (acc.PeCount[l] > 0) v[l] = acc.PeNormSum[k][l] / acc.PeCount[l];
                    details["prompt_entropy_" + EntropyNormalizations.Name(EntropyNormalizations.All[k])] = v;
                }
                details["prompt_entropy_prompts"] = acc.PeCount.Select(c => (double)c).ToArray();
                if (peSkipped.Max() > 0)
                    warnings.Add($"prompt entropy: skipped up to {peSkipped.Max()} prompt(s) per slot (single token, or a token equal to the prompt's mean; §0.3).");
            }
            if (wantCurv)
            {
                var mean = Nan();
                for (int l = 0; l < slots; l++) if (acc.CurvCount[l] > 0) mean[l] = acc.CurvSum[l] / acc.CurvCount[l];
                values["curvature"] = mean;
                details["curvature"] = mean;
                details["curvature_logD"] = mean.Select(c => Curvature.LogD(c, d)).ToArray();
                details["curvature_prompts"] = acc.CurvCount.Select(c => (double)c).ToArray();
                if (curvSkipped.Max() > 0)
                    warnings.Add($"curvature: skipped up to {curvSkipped.Max()} prompt(s) per slot (fewer than 3 tokens, or a zero centred token).");
            }
            if (wantPooled)
            {
                if (paper && zeroPooled > 0)
                    warnings.Add($"PaperCompat pooling: {zeroPooled} prompt(s) with exactly 2 tokens pool to the zero vector (§3).");
                int dropped = 0;
                for (int l = 0; l < slots; l++) { int bad = 0; for (int i = 0; i < n; i++) if (!pooledOk![l, i]) bad++; dropped = Math.Max(dropped, bad); }
                if (dropped > 0) warnings.Add($"dataset metrics: dropped up to {dropped} prompt(s) per slot whose pooled row is NaN (single-token prompts in PaperCompat mode).");
                PooledMetrics(pooled!, pooledOk!, n, d, slots, options, wantDe, wantEr, values, details, warnings, progress);
            }
        }

        // ---- Pass 2: augmented copies (§6) for InfoNCE, LiDAR and DiME. ----
        if (metrics.Any(LayerMetricNames.NeedsAugmentations))
        {
            if (texts is null) throw new NativeLayersException("the augmentation metrics need text prompts.");
            AugmentationMetrics(model, texts, options, slots, d, values, details, warnings, progress);
        }

        // Requested metrics first, in the order asked.
        var ordered = new Dictionary<string, double[]>();
        foreach (var m in metrics) ordered[LayerMetricNames.Json(m)] = values[LayerMetricNames.Json(m)];
        return new LayerMetricsResult
        {
            Slots = Enumerable.Range(0, slots).ToArray(),
            Metrics = metrics,
            Values = ordered,
            Details = details,
            Alpha = options.Alpha,
            Mode = options.Mode,
            Seed = options.Seed,
            Prompts = n,
            Width = d,
            Warnings = warnings,
        };
    }

    private static void PooledMetrics(double[][] pooled, bool[,] pooledOk, int n, int d, int slots, LayerMetricsOptions options,
        bool wantDe, bool wantEr, Dictionary<string, double[]> values, Dictionary<string, double[]> details, List<string> warnings,
        IProgress<LayerMetricsProgress>? progress)
    {
        bool paper = options.Mode == MetricMode.PaperCompat;
        var de = Enumerable.Repeat(double.NaN, slots).ToArray();
        var deNorm = EntropyNormalizations.All.Select(_ => Enumerable.Repeat(double.NaN, slots).ToArray()).ToArray();
        var er = Enumerable.Repeat(double.NaN, slots).ToArray();
        var erGram = Enumerable.Repeat(double.NaN, slots).ToArray();
        var used = new double[slots];
        var errors = new string?[slots];
        int done = 0;
        Parallel.For(0, slots, l =>
        {
            var rows = new List<int>(n);
            for (int i = 0; i < n; i++) if (pooledOk[l, i]) rows.Add(i);
            used[l] = rows.Count;
            var x = new Matrix(rows.Count, d);
            for (int r = 0; r < rows.Count; r++) Array.Copy(pooled[l], rows[r] * d, x.Data, r * d, d);
            try
            {
                if (wantDe && rows.Count >= 2)
                {
                    double h = DatasetEntropy.FromPooled(x, options.Alpha, options.Mode);
                    de[l] = h;
                    for (int k = 0; k < deNorm.Length; k++) deNorm[k][l] = EntropyNormalizations.Apply(h, EntropyNormalizations.All[k], rows.Count, d);
                }
                if (wantEr && rows.Count >= 1)
                {
                    // §4 on the dataset matrix: Recommended centres the pooled rows; PaperCompat uses §3's pooled rows as they are.
                    var m = paper ? x : Preprocessing.CenterRows(x);
                    er[l] = EffectiveRank.SingularValue(m);
                    erGram[l] = EffectiveRank.Gram(m);
                }
            }
            catch (NativeLayersException e) { errors[l] = $"slot {l}: {e.Message}"; }
            progress?.Report(new LayerMetricsProgress("dataset metrics", Interlocked.Increment(ref done), slots));
        });
        foreach (var e in errors) if (e != null) warnings.Add(e);
        if (wantDe)
        {
            values["dataset_entropy"] = de;
            details["dataset_entropy"] = de;
            for (int k = 1; k < deNorm.Length; k++) details["dataset_entropy_" + EntropyNormalizations.Name(EntropyNormalizations.All[k])] = deNorm[k];
            details["dataset_entropy_prompts"] = used;
        }
        if (wantEr)
        {
            values["effective_rank"] = er;
            details["effective_rank"] = er;
            details["effective_rank_gram"] = erGram;
        }
    }

    private static void AugmentationMetrics(Transformer model, IReadOnlyList<string> texts, LayerMetricsOptions options, int slots, int d,
        Dictionary<string, double[]> values, Dictionary<string, double[]> details, List<string> warnings, IProgress<LayerMetricsProgress>? progress)
    {
        var metrics = options.Metrics;
        bool paper = options.Mode == MetricMode.PaperCompat;
        bool wantLidar = metrics.Contains(LayerMetric.Lidar);
        bool wantPairs = metrics.Contains(LayerMetric.InfoNce) || metrics.Contains(LayerMetric.Dime);
        int j = wantLidar ? options.LidarAugmentations : 2;
        int n = texts.Count;
        var augmenter = new TextAugmenter(options.Seed, options.Mode);
        var lidar = wantLidar ? Enumerable.Range(0, slots).Select(_ => new LidarAccumulator(d)).ToArray() : null;
        var a = wantPairs ? Enumerable.Range(0, slots).Select(_ => new List<double[]>(n)).ToArray() : null;
        var b = wantPairs ? Enumerable.Range(0, slots).Select(_ => new List<double[]>(n)).ToArray() : null;
        int group = Math.Max(1, options.BatchSize / j), dropped = 0, kept = 0;
        for (int start = 0; start < n; start += group)
        {
            int count = Math.Min(group, n - start);
            var seqs = new List<int[]>(count * j);
            for (int p = 0; p < count; p++)
                foreach (var copy in augmenter.AugmentCopies(texts[start + p], start + p, j))
                {
                    var tokens = model.Tokenizer.Encode(copy);
                    seqs.Add(options.MaxTokens > 0 && tokens.Length > options.MaxTokens ? tokens[..options.MaxTokens] : tokens);
                }
            var captured = LayerActivations.CaptureSlots(model, seqs, Enumerable.Range(0, slots).ToArray(), paper, TokenRows.EveryToken);
            // Pooled copy embeddings: [prompt][slot] → J×D.
            var pooled = new Matrix[count, slots];
            var ok = new bool[count];
            Array.Fill(ok, true);
            Parallel.For(0, count * slots, item =>
            {
                int p = item / slots, slot = item % slots;
                var m = new Matrix(j, d);
                for (int c = 0; c < j; c++)
                {
                    int s = p * j + c;
                    int t = seqs[s].Length;
                    var z = Matrix.FromFloats(t, d, captured[slot].SequenceRows(s));
                    double[] row;
                    if (paper) row = t >= 2 ? Preprocessing.MeanPool(Preprocessing.TokenNorm(z, MetricMode.PaperCompat)) : Enumerable.Repeat(double.NaN, d).ToArray();
                    else
                    {
                        row = Preprocessing.MeanPool(z);
                        double norm = System.Numerics.Tensors.TensorPrimitives.Norm<double>(row);
                        if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Multiply(row, 1 / norm, row);
                        else row.AsSpan().Fill(double.NaN);
                    }
                    row.CopyTo(m.Data, c * d);
                }
                pooled[p, slot] = m;
                if (!m.IsFinite()) ok[p] = false; // benign race: only ever set to false
            });
            for (int p = 0; p < count; p++)
            {
                if (!ok[p]) { dropped++; continue; }
                kept++;
                for (int slot = 0; slot < slots; slot++)
                {
                    var m = pooled[p, slot];
                    lidar?[slot].Add(m);
                    if (wantPairs) { a![slot].Add(m.Row(0).ToArray()); b![slot].Add(m.Row(1).ToArray()); }
                }
            }
            progress?.Report(new LayerMetricsProgress("augmented forward", start + count, n));
        }
        if (dropped > 0) warnings.Add($"augmentation metrics: dropped {dropped} prompt(s) with a copy that could not be pooled (a zero or NaN pooled row).");
        if (paper && wantPairs && kept > d) warnings.Add($"PaperCompat DiME: N = {kept} > D = {d}; the reference would use D×D matrices and permute feature dimensions (§9); NativeLayers computes the N×N form.");

        var nan = () => Enumerable.Repeat(double.NaN, slots).ToArray();
        double[] info = nan(), mi = nan(), simclr = nan(), lid = nan(), lidNorm = nan(), lidExp = nan(), dime = nan(), dimeStd = nan(), dimeNorm = nan();
        var errors = new string?[slots];
        int done = 0;
        Parallel.For(0, slots, l =>
        {
            try
            {
                if (wantPairs && kept >= 2)
                {
                    var am = Preprocessing.Stack(a![l], d);
                    var bm = Preprocessing.Stack(b![l], d);
                    if (metrics.Contains(LayerMetric.InfoNce))
                    {
                        var r = InfoNce.Compute(am, bm, options.Temperature);
                        info[l] = r.Loss; mi[l] = r.MIBound;
                        simclr[l] = InfoNce.SimClr(am, bm, options.Temperature);
                    }
                    if (metrics.Contains(LayerMetric.Dime))
                    {
                        var r = Dime.Sample(am, bm, options.Alpha, options.DimePermutations, SplitMix64.Derive(options.Seed, 1_000_003, l));
                        dime[l] = r.Value; dimeStd[l] = r.StandardDeviation;
                        dimeNorm[l] = EntropyNormalizations.Apply(r.Value, EntropyNormalization.MaxEntropy, kept, d);
                    }
                }
                if (wantLidar && kept >= 2)
                {
                    var r = lidar![l].Compute(options.Alpha, options.LidarDelta);
                    lid[l] = r.Entropy; lidExp[l] = r.EffectiveRank;
                    lidNorm[l] = EntropyNormalizations.Apply(r.Entropy, EntropyNormalization.LogN, kept, d);
                }
            }
            catch (NativeLayersException e) { errors[l] = $"slot {l}: {e.Message}"; }
            progress?.Report(new LayerMetricsProgress("augmentation metrics", Interlocked.Increment(ref done), slots));
        });
        foreach (var e in errors) if (e != null) warnings.Add(e);
        if (kept < 2) warnings.Add($"augmentation metrics need at least 2 usable prompts, got {kept}.");
        if (metrics.Contains(LayerMetric.InfoNce))
        {
            values["infonce"] = info;
            details["infonce"] = info; details["infonce_mi_bound"] = mi; details["infonce_simclr"] = simclr;
        }
        if (wantLidar)
        {
            values["lidar"] = lid;
            details["lidar"] = lid; details["lidar_logN"] = lidNorm; details["lidar_exp"] = lidExp;
        }
        if (metrics.Contains(LayerMetric.Dime))
        {
            values["dime"] = dime;
            details["dime"] = dime; details["dime_std"] = dimeStd; details["dime_maxEntropy"] = dimeNorm;
        }
        details["augmentation_prompts"] = Enumerable.Repeat((double)kept, slots).ToArray();
    }
}
