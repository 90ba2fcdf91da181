using NativeLayers.Analysis.Plots;
using NativeLayers.Analysis.Stitching;
using NativeLayers.Analysis.Vectors;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Studies;

/// <summary>
/// The plasticity grid: <see cref="Effect"/>[i, j] = the shift in checkpoint j's preference margin when checkpoint i's
/// vector is added; <see cref="Cosine"/>[i, k] = cosine similarity of the vectors of checkpoints i and k.
/// </summary>
public sealed record PlasticityResult(IReadOnlyList<string> Checkpoints, int Layer, float Coefficient, int Pairs,
    double[] Unsteered, double[,] Effect, double[,] Cosine, double[] VectorNorms);

/// <summary>
/// Kannan 2024: a steering vector per checkpoint of one model (MeanDiff over each prompt's mean residual, read at one
/// block — by default the last, as (b) does), every vector added to every checkpoint, and the effect on a target
/// log-probability: the preference margin ℒ(negative texts) − ℒ(positive texts) in nats per token, whose shift says how
/// far the vector pushes the checkpoint towards the positive side.
/// </summary>
public static class PlasticityStudy
{
    public static PlasticityResult Run(IReadOnlyList<Transformer> checkpoints, IReadOnlyList<string> names, IReadOnlyList<ContrastivePair> pairs, int layer, float coefficient)
    {
        if (checkpoints.Count < 2) throw new NativeLayersException("plasticity needs at least two checkpoints (--model A --model B ...).");
        var first = checkpoints[0];
        foreach (var c in checkpoints)
            if (c.Layers != first.Layers || c.Width != first.Width)
                throw new NativeLayersException($"the checkpoints must share one architecture: {c.Folder.Directory} has {c.Layers} layers of width {c.Width}, {first.Folder.Directory} {first.Layers} of {first.Width}.");
        if (layer < 0 || layer >= first.Layers) throw new NativeLayersException($"--layer must be a block in 0..{first.Layers - 1}, got {layer}.");
        var options = new ContrastiveExtractionOptions { Rows = TokenRows.MeanOfTokens, Layers = [layer], HeldOutFraction = 0 };
        var vectors = checkpoints.Select(c => ContrastiveExtraction.Run(c, pairs, options).Vectors[layer].ToArray()).ToArray();
        var positive = pairs.Select(p => first.Tokenizer.Encode(p.Positive)).ToArray();
        var negative = pairs.Select(p => first.Tokenizer.Encode(p.Negative)).ToArray();
        int n = checkpoints.Count;
        var unsteered = checkpoints.Select(c => Margin(c, positive, negative, null)).ToArray();
        var effect = new double[n, n];
        var cosine = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                effect[i, j] = Margin(checkpoints[j], positive, negative, new SteeringPlan().AddVector(layer, vectors[i], coefficient)) - unsteered[j];
                cosine[i, j] = VectorMath.Cosine(Widen(vectors[i]), Widen(vectors[j]));
            }
        return new PlasticityResult(names, layer, coefficient, pairs.Count, unsteered, effect, cosine, vectors.Select(v => VectorMath.Norm(Widen(v))).ToArray());
    }

    private static double[] Widen(float[] v) => v.Select(x => (double)x).ToArray();

    /// <summary>ℒ(negatives) − ℒ(positives), nats per token: positive when the model finds the positive texts likelier.</summary>
    private static double Margin(Transformer model, int[][] positive, int[][] negative, SteeringPlan? steering)
    {
        double Loss(int[][] texts)
        {
            var loss = new LanguageModelLoss();
            loss.Add(model.Forward(texts, new ForwardOptions { Logits = LogitsMode.All, Steering = steering }), texts);
            return loss.Mean;
        }
        return Loss(negative) - Loss(positive);
    }

    public static StudyReport Report(PlasticityResult r, StudyContext context)
    {
        int n = r.Checkpoints.Count;
        var ticks = Enumerable.Range(0, n).Select(i => i.ToString()).ToList();
        var indices = Enumerable.Range(0, n).ToArray();
        var plots = new List<StudyPlot>
        {
            new("effect.png", "effect of each checkpoint's vector on each checkpoint", LayerPlots.Heatmap(PlotFormat.Png,
                $"margin shift (nats/token), vectors at block {r.Layer}, coefficient {SlotChoice.F(r.Coefficient)}", "checkpoint steered", "checkpoint of the vector",
                r.Effect, ticks, ticks, HeatmapScale.Signed("Δ margin (nats/token)"))),
            new("timeline.png", "effect timeline", LayerPlots.Curves(PlotFormat.Png, $"effect of each vector across checkpoints ({context.Data})", "checkpoint steered", "Δ margin (nats/token)",
                indices, indices.Select(i => ($"vector of checkpoint {i}", Enumerable.Range(0, n).Select(j => r.Effect[i, j]).ToArray())).ToList())),
            new("cosine.png", "cosine similarity of the vectors", LayerPlots.Heatmap(PlotFormat.Png, $"cosine similarity of the block-{r.Layer} vectors",
                "checkpoint", "checkpoint", r.Cosine, ticks, ticks, new HeatmapScale("cosine", -1, 1, Diverging: true))),
        };
        double own = indices.Average(i => r.Effect[i, i]);
        double cross = n > 1 ? indices.SelectMany(i => indices.Where(j => j != i).Select(j => r.Effect[i, j])).Average() : double.NaN;
        double lastOnFirst = r.Effect[n - 1, 0], firstOnLast = r.Effect[0, n - 1];
        double adjacentCosine = indices.Skip(1).Average(i => r.Cosine[i - 1, i]);
        var rows = indices.Select(i => (IReadOnlyList<string>)[i.ToString(), r.Checkpoints[i], SlotChoice.F(r.Unsteered[i]), SlotChoice.F(r.VectorNorms[i]),
            string.Join(" ", indices.Select(j => SlotChoice.F(r.Effect[i, j]))), string.Join(" ", indices.Select(j => SlotChoice.F(r.Cosine[i, j])))]).ToList();
        return new StudyReport
        {
            Study = "plasticity",
            Title = $"Steering plasticity across {n} checkpoints on {context.Data}",
            WhatWasRun =
            [
                $"A MeanDiff vector per checkpoint from {r.Pairs} pairs, each prompt's residual averaged over its tokens at block {r.Layer}.",
                $"Every vector added (coefficient {SlotChoice.F(r.Coefficient)}, every position, block {r.Layer}) to every checkpoint; the effect is the shift of the margin ℒ(negative) − ℒ(positive) in nats per token.",
                "Cosine similarity between the checkpoints' vectors.",
            ],
            Settings =
            [
                ("checkpoints", string.Join(", ", r.Checkpoints)), ("pairs", context.DataPath), ("block", r.Layer.ToString()),
                ("coefficient", SlotChoice.F(r.Coefficient)), ("method", "MeanDiff, mean over tokens"),
            ],
            Answers =
            [
                new("Does a checkpoint's vector steer the other checkpoints?",
                    $"A vector moves its own checkpoint's margin by {SlotChoice.F(own)} nats/token on average and the other checkpoints' by {SlotChoice.F(cross)}. "
                    + $"The last checkpoint's vector moves the first by {SlotChoice.F(lastOnFirst)}; the first's moves the last by {SlotChoice.F(firstOnLast)}."),
                new("How much do the vectors change between checkpoints?",
                    $"Adjacent checkpoints' vectors have a mean cosine similarity of {SlotChoice.F(adjacentCosine)}; the first and the last {SlotChoice.F(r.Cosine[0, n - 1])}."),
            ],
            Tables = [new StudyTable("per checkpoint (effect and cosine rows: vector i on / against checkpoints 0..n−1)", ["#", "checkpoint", "unsteered margin", "vector norm", "effect on checkpoints", "cosine"], rows)],
            Plots = plots,
            Caveats =
            [
                $"{r.Pairs} pairs; the margin is measured on the same texts the vectors were extracted from.",
                "One block and one coefficient; Kannan applies the vectors during training as well, which this study does not do.",
            ],
            Results = new
            {
                study = "plasticity",
                checkpoints = r.Checkpoints,
                pairs_file = context.DataPath,
                settings = new { layer = r.Layer, coefficient = r.Coefficient, method = "MeanDiff", position = "mean", pairs = r.Pairs },
                unsteered_margin = r.Unsteered,
                effect = StitchStudy.Jagged(r.Effect),
                cosine = StitchStudy.Jagged(r.Cosine),
                vector_norms = r.VectorNorms,
                seconds = context.Seconds,
            },
        };
    }
}
