using NativeLayers.Analysis.Evaluation;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Lens;

/// <summary>Settings of a logit-lens readout.</summary>
public sealed record LensOptions
{
    /// <summary>Slots 0..L to decode; null = all.</summary>
    public IReadOnlyList<int>? Slots { get; init; }
    /// <summary>Token positions to read (negative from the end); null = the last one.</summary>
    public IReadOnlyList<int>? Positions { get; init; }
    public int TopK { get; init; } = 5;
    /// <summary>A token id whose rank and probability are tracked across slots.</summary>
    public int? Target { get; init; }
    /// <summary>Options of the prompt's forward pass (context overflow, per-block progress); logits are the lens's own.</summary>
    public ForwardOptions? Forward { get; init; }
}

/// <summary>A token and its probability under one slot's decoded distribution.</summary>
public sealed record LensToken(int Id, string Text, double Probability, double Logit);

/// <summary>
/// One slot at one position: the top-k tokens, the target's 1-based rank (1 + the number of tokens with a strictly
/// larger logit) and probability, KL(final ‖ slot) in nats (§16.1: from log-softmax) and the slot distribution's entropy.
/// </summary>
public sealed record LensReading(int Slot, int Position, IReadOnlyList<LensToken> Top, int? TargetRank, double? TargetProbability,
    double KlFromFinal, double EntropyNats);

/// <summary>All readings, by slot then position, with the model's own (final) top tokens per position.</summary>
public sealed record LensReport(int[] Tokens, IReadOnlyList<int> Slots, IReadOnlyList<int> Positions, int? Target, IReadOnlyList<LensReading> Readings)
{
    public LensReading At(int slot, int position) => Readings.First(r => r.Slot == slot && r.Position == position);
}

/// <summary>
/// The logit lens: decode any residual slot through the model's final norm and unembedding, i.e.
/// <c>head(FinalNorm(R[s]))</c>, computed with <see cref="Transformer.ForwardFrom"/> from slot L (zero blocks run).
/// Slot L's reading is the model's own next-token distribution.
/// </summary>
public static class LogitLens
{
    public static LensReport Run(Transformer model, int[] tokens, LensOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokens);
        options ??= new LensOptions();
        if (tokens.Length == 0) throw new NativeLayersException("the lens needs at least one token.");
        if (!model.HasLanguageModelHead) throw new NativeLayersException($"{model.Folder.Directory} has no language-model head to decode through.");
        if (options.TopK < 1) throw new NativeLayersException("--top-k must be ≥ 1.");
        if (options.Target is int t && (uint)t >= (uint)model.VocabSize) throw new NativeLayersException($"target token {t} is outside 0..{model.VocabSize - 1}.");
        var slots = options.Slots ?? Enumerable.Range(0, model.Layers + 1).ToArray();
        foreach (int s in slots) if (s < 0 || s > model.Layers) throw new NativeLayersException($"slot {s} is outside 0..{model.Layers}.");
        var positions = (options.Positions ?? [-1]).Select(p =>
        {
            int q = p < 0 ? tokens.Length + p : p;
            return (uint)q < (uint)tokens.Length ? q : throw new NativeLayersException($"position {p} is outside a {tokens.Length}-token prompt.");
        }).Distinct().ToArray();

        var forward = model.Forward([tokens], (options.Forward ?? new ForwardOptions()) with { Logits = LogitsMode.None });
        // The read rows of every slot (and of slot L, the model's own output) as "sequences" resumed at slot L: the final
        // norm and head only, for just the positions read, so a long prompt costs no [tokens, vocab] logits per slot.
        var decoded = slots.Append(model.Layers).ToArray();
        int d = model.Width;
        var residuals = decoded.Select(s =>
        {
            var picked = new float[positions.Length * d];
            for (int j = 0; j < positions.Length; j++) forward.Residual.SequenceSlot(s, 0).Slice(positions[j] * d, d).CopyTo(picked.AsSpan(j * d, d));
            return picked;
        }).ToArray();
        var readTokens = positions.Select(p => tokens[p]).ToArray();
        var lens = model.ForwardFrom(model.Layers, residuals, decoded.Select(_ => readTokens).ToArray(), new ForwardOptions { Logits = LogitsMode.All });
        var finalRows = lens.Residual.Sequences[^1];
        bool hasText = model.HasTokenizer;
        var readings = new List<LensReading>();
        for (int k = 0; k < slots.Count; k++)
        {
            var seq = lens.Residual.Sequences[k];
            for (int j = 0; j < positions.Length; j++)
            {
                int p = positions[j];
                var logits = Widen(lens.LogitsRow(seq.FirstRow + j));
                var final = Widen(lens.LogitsRow(finalRows.FirstRow + j));
                var logProbs = NextTokenDivergence.LogSoftmax(logits);
                var order = TopIndices(logits, options.TopK);
                var top = order.Select(id => new LensToken(id, hasText ? model.Tokenizer.TokenText(id) : $"<{id}>", Math.Exp(logProbs[id]), logits[id])).ToList();
                int? rank = null;
                double? prob = null;
                if (options.Target is int target)
                {
                    int above = 0;
                    foreach (double z in logits) if (z > logits[target]) above++;
                    rank = above + 1;
                    prob = Math.Exp(logProbs[target]);
                }
                readings.Add(new LensReading(slots[k], p, top, rank, prob,
                    NextTokenDivergence.KlDivergence(final, logits), NextTokenDivergence.Entropy(logits)));
            }
        }
        return new LensReport(tokens, slots, positions, options.Target, readings);
    }

    /// <summary>Indices of the k largest values, largest first (ties: lower id first).</summary>
    public static int[] TopIndices(ReadOnlySpan<double> values, int k)
    {
        k = Math.Min(k, values.Length);
        var best = new List<int>(k + 1);
        for (int i = 0; i < values.Length; i++)
        {
            if (best.Count == k && values[i] <= values[best[^1]]) continue;
            int at = best.Count;
            while (at > 0 && values[best[at - 1]] < values[i]) at--;
            best.Insert(at, i);
            if (best.Count > k) best.RemoveAt(k);
        }
        return [.. best];
    }

    private static double[] Widen(ReadOnlySpan<float> x)
    {
        var r = new double[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = x[i];
        return r;
    }
}
