using System.Globalization;

namespace NativeLayers.Analysis.Studies;

/// <summary>
/// The best slot of one per-slot curve in its favourable direction, and the Layer-by-Layer question: does an
/// intermediate slot (1..L−1) beat the last one (L)? <see cref="Gap"/> is the best intermediate value minus the last
/// value, signed so that a positive gap means the intermediate slot is better.
/// </summary>
public sealed record SlotChoice(string Name, bool HigherIsBetter, int BestSlot, double BestValue,
    int BestIntermediateSlot, double BestIntermediateValue, double LastValue, double Gap)
{
    public bool IntermediateBeatsLast => Gap > 0;

    /// <summary>Picks from one value per slot 0..L (NaN slots are skipped; ties go to the earlier slot).</summary>
    public static SlotChoice Of(string name, IReadOnlyList<double> values, bool higherIsBetter)
    {
        int last = values.Count - 1;
        double sign = higherIsBetter ? 1 : -1;
        int best = Best(values, 0, last, sign);
        int intermediate = last >= 2 ? Best(values, 1, last - 1, sign) : -1;
        double bestIntermediate = intermediate >= 0 ? values[intermediate] : double.NaN;
        double gap = sign * (bestIntermediate - values[last]);
        return new SlotChoice(name, higherIsBetter, best, best >= 0 ? values[best] : double.NaN, intermediate, bestIntermediate, values[last], gap);
    }

    private static int Best(IReadOnlyList<double> values, int from, int to, double sign)
    {
        int best = -1;
        for (int s = from; s <= to; s++)
            if (double.IsFinite(values[s]) && (best < 0 || sign * values[s] > sign * values[best])) best = s;
        return best;
    }

    /// <summary>One sentence: the best slot, and whether the best intermediate slot beats the last with the gap.</summary>
    public string Sentence(string unit = "")
    {
        string direction = HigherIsBetter ? "highest" : "lowest";
        if (BestIntermediateSlot < 0) return $"{Name}: {direction} at slot {BestSlot} ({F(BestValue)}{unit}); the model has no intermediate slot.";
        return IntermediateBeatsLast
            ? $"{Name}: {direction} at slot {BestSlot} ({F(BestValue)}{unit}); intermediate slot {BestIntermediateSlot} beats the last slot by {F(Gap)}{unit} ({F(BestIntermediateValue)} vs {F(LastValue)})."
            : $"{Name}: {direction} at slot {BestSlot} ({F(BestValue)}{unit}); no intermediate slot beats the last one (best intermediate, slot {BestIntermediateSlot}, is {F(-Gap)}{unit} worse: {F(BestIntermediateValue)} vs {F(LastValue)}).";
    }

    /// <summary>Four decimals; values too small for them in scientific notation, so a tiny penalty does not read as "-0".</summary>
    internal static string F(double v) => !double.IsFinite(v) ? "n/a"
        : v != 0 && Math.Abs(v) < 5e-5 ? v.ToString("0.##e+0", CultureInfo.InvariantCulture)
        : v.ToString("0.####", CultureInfo.InvariantCulture);
}
