using NativeLayers.Loading;

namespace NativeLayers.Runtime.Hooks;

/// <summary>
/// Parses lists such as "0-3,7,-1" (inclusive ranges, negative indices from the end) or "all", of blocks (0..L−1,
/// what every --layers option takes) or of residual slots (0..L: 0 = the embeddings, l + 1 = after block l; --slots).
/// </summary>
public static class LayerSelection
{
    /// <summary>Blocks 0..<paramref name="layers"/> − 1.</summary>
    public static int[] Parse(string text, int layers) =>
        Parse(text, layers, "layers", "layer", n => HookId.ResolveLayer(n, layers, $"layers '{text}'"));

    /// <summary>Residual slots 0..<paramref name="layers"/> of a model with that many blocks.</summary>
    public static int[] ParseSlots(string text, int layers) =>
        Parse(text, layers + 1, "slots", "slot", n => ResolveSlot(n, layers, $"slots '{text}'"));

    /// <summary>A slot index (negative from the end: -1 = slot L), with an error naming the slot range.</summary>
    public static int ResolveSlot(int slot, int layers, string context)
    {
        int slots = layers + 1, resolved = slot < 0 ? slots + slot : slot;
        if (resolved < 0 || resolved >= slots)
            throw new NativeLayersException($"{context}: slot {slot} is out of range; this model has slots 0..{layers} " +
                $"(0 = the embeddings, {layers} = after the last block; or -{slots}..-1).");
        return resolved;
    }

    private static int[] Parse(string text, int count, string plural, string singular, Func<int, int> resolve)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "all") return Enumerable.Range(0, count).ToArray();
        var result = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int dash = part.IndexOf('-', 1); // a leading '-' is a sign
            if (dash > 0)
            {
                int a = ParseOne(part[..dash]), b = ParseOne(part[(dash + 1)..]);
                if (b < a) throw new NativeLayersException($"{plural} '{text}': range {part} runs backwards.");
                for (int l = a; l <= b; l++) result.Add(l);
            }
            else result.Add(ParseOne(part));
        }
        return result.ToArray();

        int ParseOne(string one) => int.TryParse(one, out int n)
            ? resolve(n)
            : throw new NativeLayersException($"{plural} '{text}': '{one}' is not a {singular} number.");
    }
}
