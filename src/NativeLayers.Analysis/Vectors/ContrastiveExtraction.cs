using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Vectors;

public sealed record ContrastiveExtractionOptions
{
    public SteeringMethod Method { get; init; } = SteeringMethod.MeanDiff;
    /// <summary>Where each prompt's row is read (§12): its last token (repeng, repana, CAA; the default) or the mean over its tokens (Kannan (b)).</summary>
    public TokenRows Rows { get; init; } = TokenRows.LastToken;
    /// <summary>Blocks whose output (resid_post) is read; null = all.</summary>
    public IReadOnlyList<int>? Layers { get; init; }
    /// <summary>Fraction of pairs held out for evaluation (every k-th pair, deterministic).</summary>
    public double HeldOutFraction { get; init; } = 0.2;
    public ExtractionOptions Extraction { get; init; } = new();
    public int BatchSize { get; init; } = 16;
}

/// <summary>One layer's vector and how well it separates held-out pairs.</summary>
public sealed record LayerExtraction(int Layer, ExtractedVector Vector, HeldOutScore? HeldOut, HeldOutScore Train);

/// <summary>
/// The RepE / repeng recipe end to end: run every positive and negative prompt, read each block's output at the
/// chosen position, extract a vector per layer from the training pairs, and score it on held-out pairs.
/// The vector for layer k is read from, and meant to be added to, the output of block k (R[k+1]).
/// </summary>
public static class ContrastiveExtraction
{
    public static (SteeringVectorSet Vectors, List<LayerExtraction> Layers) Run(Transformer model, IReadOnlyList<ContrastivePair> pairs,
        ContrastiveExtractionOptions options, IProgress<int>? progress = null)
    {
        if (!options.Rows.OneRowPerSequence)
            throw new NativeLayersException("extraction reads one row per prompt (the last token or the mean over tokens), not every token.");
        if (!model.HasTokenizer) throw new NativeLayersException($"{model.Folder.Directory} has no tokenizer to encode the pairs.");
        var layers = options.Layers ?? Enumerable.Range(0, model.Layers).ToArray();
        var positive = Read(model, pairs.Select(p => p.Positive).ToList(), layers, options, progress, 0);
        var negative = Read(model, pairs.Select(p => p.Negative).ToList(), layers, options, progress, pairs.Count);

        int every = options.HeldOutFraction <= 0 ? int.MaxValue : Math.Max(2, (int)Math.Round(1 / options.HeldOutFraction));
        var heldOut = Enumerable.Range(0, pairs.Count).Where(i => i % every == every - 1).ToArray();
        var train = Enumerable.Range(0, pairs.Count).Except(heldOut).ToArray();
        if (train.Length < 2) throw new NativeLayersException($"only {train.Length} training pair(s) after holding out {heldOut.Length}; give more pairs.");

        var set = new SteeringVectorSet(model.Width, new SteeringVectorMetadata
        {
            ModelName = Path.GetFileName(Path.GetFullPath(model.Folder.Directory).TrimEnd('/')),
            ModelType = model.Config.ModelType,
            Method = options.Method.ToString(),
            Position = MetadataName(options.Rows),
            HookPoint = SteeringVectorMetadata.ResidPost,
        });
        var results = new List<LayerExtraction>();
        foreach (int layer in layers)
        {
            Matrix trainPos = Select(positive[layer], train), trainNeg = Select(negative[layer], train);
            var vector = SteeringExtractor.Extract(options.Method, trainPos,
                options.Method == SteeringMethod.Reading ? null : trainNeg, options.Extraction);
            var trainScore = HeldOutEvaluation.Evaluate(vector.Values, trainPos, trainNeg);
            HeldOutScore? heldOutScore = heldOut.Length > 0
                ? HeldOutEvaluation.Evaluate(vector.Values, Select(positive[layer], heldOut), Select(negative[layer], heldOut))
                : null;
            set.Set(layer, vector);
            results.Add(new LayerExtraction(layer, vector, heldOutScore, trainScore));
        }
        return (set, results);
    }

    /// <summary>Per layer, one row per prompt: resid_post at the last token or averaged over tokens.</summary>
    private static Dictionary<int, Matrix> Read(Transformer model, IReadOnlyList<string> texts, IReadOnlyList<int> layers,
        ContrastiveExtractionOptions options, IProgress<int>? progress, int offset)
    {
        var plan = new CapturePlan
        {
            Hooks = layers.Select(HookId.ResidPost).ToList(),
            Tokens = options.Rows.Tokens,
            Reduction = options.Rows.Reduction,
        };
        var rows = layers.ToDictionary(l => l, _ => new List<float>());
        for (int start = 0; start < texts.Count; start += options.BatchSize)
        {
            var batch = texts.Skip(start).Take(options.BatchSize).Select(t => model.Tokenizer.Encode(t)).ToArray();
            foreach (var (hook, tensor) in Capturer.Run(model, batch, plan)) rows[hook.Layer].AddRange(tensor.Data);
            progress?.Report(offset + start + batch.Length);
        }
        return rows.ToDictionary(p => p.Key, p => Matrix.FromFloats(texts.Count, model.Width, p.Value.ToArray()));
    }

    /// <summary>The read position as vector files record it ("Last", "Mean", as earlier files do).</summary>
    public static string MetadataName(TokenRows rows) =>
        rows == TokenRows.LastToken ? "Last" : rows == TokenRows.MeanOfTokens ? "Mean" : rows.ToString();

    private static Matrix Select(Matrix m, int[] rows)
    {
        var result = new Matrix(rows.Length, m.Cols);
        for (int i = 0; i < rows.Length; i++) m.Row(rows[i]).CopyTo(result.Row(i));
        return result;
    }
}
