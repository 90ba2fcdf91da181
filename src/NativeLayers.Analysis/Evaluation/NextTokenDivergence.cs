using NativeLayers.Loading;

namespace NativeLayers.Analysis.Evaluation;

/// <summary>How KL is computed (§16.1).</summary>
public enum KlMode
{
    /// <summary>From log-softmax of the logits; never the log of a probability.</summary>
    Recommended,
    /// <summary>The reference code: <c>Σ p (ln(p + 1e-8) − ln(q + 1e-8))</c> on softmax probabilities.</summary>
    PaperCompat,
}

/// <summary>
/// Divergences and entropies of next-token distributions given as logit rows (§16.1), in float64. "Base" is the
/// unsteered row (p = softmax(z_base)), "steered" the steered one (q = softmax(z_steered)); KL is KL(p ‖ q) in nats.
/// Logits of −∞ (masked tokens) are allowed; NaN and +∞ are not.
/// </summary>
public static class NextTokenDivergence
{
    public const double PaperCompatEpsilon = 1e-8;
    private static readonly double Ln2 = Math.Log(2);

    /// <summary>log-softmax in float64: z − max − ln Σ exp(z − max).</summary>
    public static double[] LogSoftmax(ReadOnlySpan<double> logits)
    {
        Validate(logits, "logits");
        double max = double.NegativeInfinity;
        foreach (double z in logits) if (z > max) max = z;
        if (double.IsNegativeInfinity(max)) throw new NativeLayersException("every logit is −∞: the distribution is empty.");
        double sum = 0;
        foreach (double z in logits) sum += Math.Exp(z - max);
        double lse = max + Math.Log(sum);
        var r = new double[logits.Length];
        for (int i = 0; i < r.Length; i++) r[i] = logits[i] - lse;
        return r;
    }

    public static double[] LogSoftmax(ReadOnlySpan<float> logits) => LogSoftmax(Widen(logits));

    public static double[] Softmax(ReadOnlySpan<double> logits)
    {
        var r = LogSoftmax(logits);
        for (int i = 0; i < r.Length; i++) r[i] = Math.Exp(r[i]);
        return r;
    }

    /// <summary>KL(p ‖ q) in nats, p = softmax(<paramref name="baseLogits"/>), q = softmax(<paramref name="steeredLogits"/>).</summary>
    public static double KlDivergence(ReadOnlySpan<double> baseLogits, ReadOnlySpan<double> steeredLogits, KlMode mode = KlMode.Recommended)
    {
        SameVocabulary(baseLogits, steeredLogits);
        var lp = LogSoftmax(baseLogits);
        var lq = LogSoftmax(steeredLogits);
        double kl = 0;
        for (int i = 0; i < lp.Length; i++)
        {
            double p = Math.Exp(lp[i]);
            if (p == 0) continue;
            kl += mode == KlMode.PaperCompat
                ? p * (Math.Log(p + PaperCompatEpsilon) - Math.Log(Math.Exp(lq[i]) + PaperCompatEpsilon))
                : p * (lp[i] - lq[i]);
        }
        return Math.Max(kl, 0);
    }

    public static double KlDivergence(ReadOnlySpan<float> baseLogits, ReadOnlySpan<float> steeredLogits, KlMode mode = KlMode.Recommended) =>
        KlDivergence(Widen(baseLogits), Widen(steeredLogits), mode);

    /// <summary>Shannon entropy of softmax(<paramref name="logits"/>) in nats.</summary>
    public static double Entropy(ReadOnlySpan<double> logits)
    {
        var l = LogSoftmax(logits);
        double h = 0;
        foreach (double li in l)
        {
            double p = Math.Exp(li);
            if (p > 0) h -= p * li;
        }
        return Math.Max(h, 0);
    }

    public static double Entropy(ReadOnlySpan<float> logits) => Entropy(Widen(logits));

    /// <summary>Shannon entropy in bits ((d) reports bits).</summary>
    public static double EntropyBits(ReadOnlySpan<double> logits) => Entropy(logits) / Ln2;

    public static double EntropyBits(ReadOnlySpan<float> logits) => Entropy(logits) / Ln2;

    /// <summary>Jensen–Shannon divergence in nats: ½KL(p‖m) + ½KL(q‖m), m = (p+q)/2; symmetric, ≤ ln 2.</summary>
    public static double JensenShannon(ReadOnlySpan<double> logitsA, ReadOnlySpan<double> logitsB)
    {
        SameVocabulary(logitsA, logitsB);
        var lp = LogSoftmax(logitsA);
        var lq = LogSoftmax(logitsB);
        double js = 0;
        for (int i = 0; i < lp.Length; i++)
        {
            double a = lp[i], b = lq[i];
            double hi = Math.Max(a, b);
            if (double.IsNegativeInfinity(hi)) continue;
            double lm = hi + Math.Log(Math.Exp(a - hi) + Math.Exp(b - hi)) - Ln2; // ln((p+q)/2)
            double p = Math.Exp(a), q = Math.Exp(b);
            if (p > 0) js += 0.5 * p * (a - lm);
            if (q > 0) js += 0.5 * q * (b - lm);
        }
        return Math.Clamp(js, 0, Ln2);
    }

    public static double JensenShannon(ReadOnlySpan<float> logitsA, ReadOnlySpan<float> logitsB) =>
        JensenShannon(Widen(logitsA), Widen(logitsB));

    private static void SameVocabulary(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
            throw new NativeLayersException($"the two logit rows have different vocabulary sizes ({a.Length} and {b.Length}).");
    }

    private static void Validate(ReadOnlySpan<double> logits, string what)
    {
        if (logits.IsEmpty) throw new NativeLayersException($"the {what} are empty.");
        foreach (double z in logits)
            if (double.IsNaN(z) || double.IsPositiveInfinity(z))
                throw new NativeLayersException($"the {what} contain NaN or +∞.");
    }

    private static double[] Widen(ReadOnlySpan<float> x)
    {
        var r = new double[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = x[i];
        return r;
    }
}
