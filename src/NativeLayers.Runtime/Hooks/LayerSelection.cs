using NativeLayers.Loading;

namespace NativeLayers.Runtime.Hooks;

/// <summary>Parses layer lists such as "0-3,7,-1" (inclusive ranges, negative indices from the end) or "all".</summary>
public static class LayerSelection
{
    public static int[] Parse(string text, int layers)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "all") return Enumerable.Range(0, layers).ToArray();
        var result = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int dash = part.IndexOf('-', 1); // a leading '-' is a sign
            if (dash > 0)
            {
                int a = ParseOne(part[..dash], layers, text), b = ParseOne(part[(dash + 1)..], layers, text);
                if (b < a) throw new NativeLayersException($"layers '{text}': range {part} runs backwards.");
                for (int l = a; l <= b; l++) result.Add(l);
            }
            else result.Add(ParseOne(part, layers, text));
        }
        return result.ToArray();
    }

    private static int ParseOne(string text, int layers, string context) =>
        int.TryParse(text, out int layer)
            ? HookId.ResolveLayer(layer, layers, $"layers '{context}'")
            : throw new NativeLayersException($"layers '{context}': '{text}' is not a layer number.");
}
