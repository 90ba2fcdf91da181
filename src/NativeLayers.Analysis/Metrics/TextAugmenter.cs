using System.Text;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>
/// The seeded text augmentations of metrics.md §6, written natively after nlpaug's defaults: a word split, a random
/// character substitution and a keyboard typo, chained once per augmented copy. Words are the space-separated tokens
/// of the text; a word is eligible when it has ≥ 4 characters. Word counts are ⌊0.3·eligible⌋ clamped to [1, 10], and
/// character counts ⌊0.3·length⌋ clamped to [1, 10]. Every (prompt, copy) draws from its own stream derived from the
/// seed, so results do not depend on order or threading. PaperCompat wraps the output the way the reference's
/// <c>str(list)</c> does: <c>['…']</c>.
/// </summary>
public sealed class TextAugmenter
{
    public const double WordFraction = 0.3, CharFraction = 0.3;
    public const int MinWordLength = 4, MinCount = 1, MaxCount = 10;
    private const string RandomChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    private static readonly Dictionary<char, char[]> Neighbours = BuildKeyboard();

    public ulong Seed { get; }
    public MetricMode Mode { get; }

    public TextAugmenter(ulong seed, MetricMode mode = MetricMode.Recommended)
    {
        Seed = seed;
        Mode = mode;
    }

    /// <summary>Augmented copy number <paramref name="copy"/> of prompt number <paramref name="prompt"/> (reproducible).</summary>
    public string Augment(string text, int prompt, int copy)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rng = new SplitMix64(SplitMix64.Derive(Seed, prompt, copy));
        string result = KeyboardTypo(Substitute(Split(text, rng), rng), rng);
        return Mode == MetricMode.PaperCompat ? PythonListRepr(result) : result;
    }

    /// <summary><paramref name="copies"/> augmented copies of one prompt.</summary>
    public string[] AugmentCopies(string text, int prompt, int copies, int firstCopy = 0)
    {
        if (copies < 1) throw new NativeLayersException($"the number of augmented copies must be ≥ 1, got {copies}.");
        var result = new string[copies];
        for (int c = 0; c < copies; c++) result[c] = Augment(text, prompt, firstCopy + c);
        return result;
    }

    /// <summary>§6 step 1: split chosen words (≥ 4 chars) at a uniformly random interior position.</summary>
    public static string Split(string text, SplitMix64 rng)
    {
        var words = text.Split(' ').ToList();
        var chosen = ChooseWords(words, rng);
        if (chosen.Count == 0) return text;
        var sb = new StringBuilder(text.Length + chosen.Count);
        var set = chosen.ToHashSet();
        for (int i = 0; i < words.Count; i++)
        {
            if (i > 0) sb.Append(' ');
            string w = words[i];
            if (set.Contains(i))
            {
                int cut = 1 + rng.Next(w.Length - 1);
                sb.Append(w, 0, cut).Append(' ').Append(w, cut, w.Length - cut);
            }
            else sb.Append(w);
        }
        return sb.ToString();
    }

    /// <summary>§6 step 2: in chosen words, replace chosen characters by random letters or digits.</summary>
    public static string Substitute(string text, SplitMix64 rng) =>
        ReplaceCharacters(text, rng, _ => true, (_, r) => RandomChars[r.Next(RandomChars.Length)]);

    /// <summary>§6 step 3: in chosen words, replace chosen characters by a neighbouring key on a US-QWERTY keyboard.</summary>
    public static string KeyboardTypo(string text, SplitMix64 rng) =>
        ReplaceCharacters(text, rng, c => Neighbours.ContainsKey(c), (c, r) => { var n = Neighbours[c]; return n[r.Next(n.Length)]; });

    private static string ReplaceCharacters(string text, SplitMix64 rng, Func<char, bool> eligible, Func<char, SplitMix64, char> replace)
    {
        var words = text.Split(' ');
        var chosen = ChooseWords(words, rng);
        foreach (int wi in chosen.Order())
        {
            var chars = words[wi].ToCharArray();
            var positions = Enumerable.Range(0, chars.Length).Where(p => eligible(chars[p])).ToList();
            int count = Math.Min(positions.Count, Count(chars.Length, CharFraction));
            foreach (int p in Sample(positions, count, rng)) chars[p] = replace(chars[p], rng);
            words[wi] = new string(chars);
        }
        return string.Join(' ', words);
    }

    private static List<int> ChooseWords(IReadOnlyList<string> words, SplitMix64 rng)
    {
        var eligible = new List<int>();
        for (int i = 0; i < words.Count; i++) if (words[i].Length >= MinWordLength) eligible.Add(i);
        if (eligible.Count == 0) return [];
        int count = Math.Min(eligible.Count, Count(eligible.Count, WordFraction));
        return Sample(eligible, count, rng);
    }

    private static int Count(int size, double fraction) => Math.Clamp((int)(fraction * size), MinCount, MaxCount);

    /// <summary>A uniformly random subset of <paramref name="count"/> items (partial Fisher–Yates).</summary>
    private static List<int> Sample(IReadOnlyList<int> items, int count, SplitMix64 rng)
    {
        var pool = items.ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = i + rng.Next(pool.Length - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }
        return pool.Take(count).ToList();
    }

    /// <summary>What Python's <c>str(["text"])</c> prints: single quotes unless the text has one and no double quote.</summary>
    public static string PythonListRepr(string text)
    {
        char quote = text.Contains('\'') && !text.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(text.Length + 4).Append('[').Append(quote);
        foreach (char c in text)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\');
                    sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).Append(']').ToString();
    }

    /// <summary>
    /// US-QWERTY adjacency: keys in the same row ±1 and keys of the rows above and below within one key width (rows are
    /// staggered), in both the plain and the shifted layer (lower/upper case, digits, special characters).
    /// </summary>
    private static Dictionary<char, char[]> BuildKeyboard()
    {
        string[] plain = ["`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./"];
        string[] shifted = ["~!@#$%^&*()_+", "QWERTYUIOP{}|", "ASDFGHJKL:\"", "ZXCVBNM<>?"];
        double[] offset = [0, 1.5, 1.75, 2.25];
        var result = new Dictionary<char, char[]>();
        for (int r = 0; r < plain.Length; r++)
        {
            for (int i = 0; i < plain[r].Length; i++)
            {
                double x = offset[r] + i;
                var near = new List<char>();
                for (int r2 = Math.Max(0, r - 1); r2 <= Math.Min(plain.Length - 1, r + 1); r2++)
                {
                    for (int i2 = 0; i2 < plain[r2].Length; i2++)
                    {
                        if (r2 == r && i2 == i) continue;
                        double dx = Math.Abs(offset[r2] + i2 - x);
                        bool adjacent = r2 == r ? dx == 1 : dx <= 1;
                        if (!adjacent) continue;
                        near.Add(plain[r2][i2]);
                        near.Add(shifted[r2][i2]);
                    }
                }
                var keys = near.Distinct().ToArray();
                result[plain[r][i]] = keys;
                result[shifted[r][i]] = keys;
            }
        }
        return result;
    }
}
