using System.Text.Json;
using NativeLayers.Analysis.Probes;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Studies;

/// <summary>A multiple-choice question: the context, the answer strings (each appended to the context as is) and the gold index.</summary>
public sealed record ChoiceItem(string Context, IReadOnlyList<string> Choices, int Gold);

/// <summary>
/// The multiple-choice tasks of the reasoning-steer study: three templated tasks generated from a seed
/// (indirect-object identification, a bAbI-style single supporting fact, comparison of two numbers) or the user's JSONL,
/// <c>{"context": ..., "choices": [...], "gold": i}</c> a line.
/// </summary>
public static class ChoiceTasks
{
    public static readonly IReadOnlyList<string> BuiltIn = ["ioi", "babi", "compare"];

    private static readonly string[] Names = ["Mary", "John", "Tom", "Lily", "Sam", "Anna", "Ben", "Sara", "Max", "Lucy"];
    private static readonly string[] Places = ["kitchen", "garden", "park", "school", "house", "forest", "store", "beach"];
    private static readonly string[] Objects = ["ball", "cake", "book", "flower", "toy", "hat"];

    public static IReadOnlyList<ChoiceItem> Generate(string task, int count, ulong seed)
    {
        var rng = new ProbeSplit.SplitMix64(seed);
        T Pick<T>(IReadOnlyList<T> items) => items[(int)(rng.Next() % (ulong)items.Count)];
        (T, T) Two<T>(IReadOnlyList<T> items)
        {
            var first = Pick(items);
            var second = Pick(items.Where(x => !Equals(x, first)).ToArray());
            return (first, second);
        }
        var items = new List<ChoiceItem>();
        for (int i = 0; i < count; i++)
        {
            // The gold answer's position alternates so that always picking the first choice scores 50 %.
            bool goldFirst = i % 2 == 0;
            switch (task)
            {
                case "ioi":
                {
                    var (a, b) = Two(Names);
                    string context = $"When {a} and {b} went to the {Pick(Places)}, {b} gave a {Pick(Objects)} to";
                    items.Add(Ordered(context, " " + a, " " + b, goldFirst));
                    break;
                }
                case "babi":
                {
                    var (a, b) = Two(Names);
                    var (p, q) = Two(Places);
                    string context = $"{a} went to the {p}. {b} went to the {q}. Where is {a}? {a} is in the";
                    items.Add(Ordered(context, " " + p, " " + q, goldFirst));
                    break;
                }
                case "compare":
                {
                    int x = (int)(rng.Next() % 90) + 10, y;
                    do y = (int)(rng.Next() % 90) + 10; while (y == x);
                    bool greater = x > y;
                    items.Add(Ordered($"Is {x} bigger than {y}? The answer is", greater ? " yes" : " no", greater ? " no" : " yes", goldFirst));
                    break;
                }
                default:
                    throw new NativeLayersException($"the built-in tasks are {string.Join(", ", BuiltIn)}, not '{task}'.");
            }
        }
        return items;
    }

    private static ChoiceItem Ordered(string context, string gold, string wrong, bool goldFirst) =>
        goldFirst ? new ChoiceItem(context, [gold, wrong], 0) : new ChoiceItem(context, [wrong, gold], 1);

    public static IReadOnlyList<ChoiceItem> Read(string path, EncodingErrors errors = EncodingErrors.Strict)
    {
        var items = JsonLines.Read(path, "multiple-choice data", "{\"context\": \"...\", \"choices\": [\"...\", ...], \"gold\": index}", root =>
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("context", out var c) || c.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("choices", out var ch) || ch.ValueKind != JsonValueKind.Array || ch.GetArrayLength() < 2
                || ch.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String)
                || !root.TryGetProperty("gold", out var g) || !g.TryGetInt32(out int gold) || gold < 0 || gold >= ch.GetArrayLength())
                return null;
            return new ChoiceItem(c.GetString()!, ch.EnumerateArray().Select(x => x.GetString()!).ToArray(), gold);
        }, errors);
        if (items.Count == 0) throw new ModelFileException(path, "no questions in the file.");
        return items;
    }
}
