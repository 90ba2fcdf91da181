using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Probes;

/// <summary>One labelled prompt.</summary>
public sealed record LabelledText(string Text, string Label);

/// <summary>Reads probe data: JSONL, one <c>{"text": ..., "label": ...}</c> object a line (label a string, number or boolean).</summary>
public static class ProbeData
{
    public static List<LabelledText> Read(string path, EncodingErrors errors = EncodingErrors.Strict)
    {
        var items = JsonLines.Read(path, "probe data", "{\"text\": \"...\", \"label\": string, number or boolean}", root =>
            root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
            && root.TryGetProperty("label", out var label)
            && label.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False
                ? new LabelledText(text.GetString()!, label.ValueKind == JsonValueKind.String ? label.GetString()! : label.GetRawText())
                : null, errors);
        if (items.Count == 0) throw new ModelFileException(path, "no labelled examples in the file.");
        return items;
    }
}

/// <summary>Deterministic, seeded, stratified train / held-out split.</summary>
public static class ProbeSplit
{
    /// <summary>
    /// Per class: shuffle that class's indices with a SplitMix64-driven Fisher–Yates shuffle seeded by
    /// <paramref name="seed"/>, then hold out round(fraction·count) of them (at least one when the class has two or more).
    /// Both index lists come back sorted.
    /// </summary>
    public static (int[] Train, int[] HeldOut) Stratified(IReadOnlyList<int> labels, double heldOutFraction, ulong seed)
    {
        if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new NativeLayersException($"the held-out fraction must be in (0, 1), got {heldOutFraction}.");
        var rng = new SplitMix64(seed);
        var train = new List<int>();
        var held = new List<int>();
        foreach (var group in Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key))
        {
            var idx = group.ToArray();
            for (int i = idx.Length - 1; i > 0; i--)
            {
                int j = (int)(rng.Next() % (ulong)(i + 1));
                (idx[i], idx[j]) = (idx[j], idx[i]);
            }
            int k = (int)Math.Round(heldOutFraction * idx.Length, MidpointRounding.AwayFromZero);
            if (idx.Length >= 2) k = Math.Clamp(k, 1, idx.Length - 1);
            else k = 0;
            held.AddRange(idx[..k]);
            train.AddRange(idx[k..]);
        }
        train.Sort();
        held.Sort();
        return ([.. train], [.. held]);
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): a tiny generator with a fixed, platform-independent sequence.</summary>
    public sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, 1).</summary>
        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
    }
}
