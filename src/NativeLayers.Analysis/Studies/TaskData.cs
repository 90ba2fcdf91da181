using System.Text.Json;
using NativeLayers.Analysis.Probes;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Studies;

/// <summary>Labelled prompts grouped into tasks: JSONL, <c>{"text": ..., "label": ..., "task": ...}</c> a line; no task = one task named "default".</summary>
public static class TaskData
{
    public const string DefaultTask = "default";

    /// <summary>The tasks in the order they first appear, each with its examples in file order.</summary>
    public static IReadOnlyList<(string Task, IReadOnlyList<LabelledText> Examples)> Read(string path, EncodingErrors errors = EncodingErrors.Strict)
    {
        var items = JsonLines.Read(path, "task data", "{\"text\": \"...\", \"label\": string, number or boolean, optional \"task\": string}", root =>
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("label", out var label) || label.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
                return null;
            string task = root.TryGetProperty("task", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : DefaultTask;
            return new Tuple<string, LabelledText>(task, new LabelledText(text.GetString()!, label.ValueKind == JsonValueKind.String ? label.GetString()! : label.GetRawText()));
        }, errors);
        if (items.Count == 0) throw new ModelFileException(path, "no labelled examples in the file.");
        return items.GroupBy(i => i.Item1).Select(g => (g.Key, (IReadOnlyList<LabelledText>)g.Select(i => i.Item2).ToList())).ToList();
    }
}
