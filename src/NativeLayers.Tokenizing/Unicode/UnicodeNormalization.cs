using System.Text;

namespace NativeLayers.Tokenizing.Unicode;

/// <summary>The four Unicode normalisation forms (UAX #15), from <see cref="UnicodeTables"/>, so they work under InvariantGlobalization.</summary>
internal static class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, int> DecompositionIndex = BuildDecompositionIndex();
    private static readonly Dictionary<int, byte> Classes = BuildClasses();
    private static readonly Dictionary<long, int> Composites = BuildComposites();

    public static string Nfd(string text) => IsAscii(text) ? text : Build(Decompose(text, compatibility: false));

    public static string Nfkd(string text) => IsAscii(text) ? text : Build(Decompose(text, compatibility: true));

    public static string Nfc(string text) => IsBelowCombining(text) ? text : Build(Compose(Decompose(text, compatibility: false)));

    public static string Nfkc(string text) => IsAscii(text) ? text : Build(Compose(Decompose(text, compatibility: true)));

    public static int CombiningClass(int codePoint) => Classes.TryGetValue(codePoint, out byte c) ? c : 0;

    private static bool IsAscii(string text) => System.Text.Ascii.IsValid(text);

    private static bool IsBelowCombining(string text)
    {
        foreach (char c in text)
        {
            if (c >= 0x300)
                return false;
        }
        return true;
    }

    private static List<int> Decompose(string text, bool compatibility)
    {
        var result = new List<int>(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
            DecomposeInto(rune.Value, compatibility, result);
        // Canonical ordering: a stable sort of each run of non-starters by combining class.
        for (int i = 1; i < result.Count; i++)
        {
            int cc = CombiningClass(result[i]);
            if (cc == 0)
                continue;
            int j = i;
            while (j > 0 && CombiningClass(result[j - 1]) > cc)
            {
                (result[j - 1], result[j]) = (result[j], result[j - 1]);
                j--;
            }
        }
        return result;
    }

    private static void DecomposeInto(int cp, bool compatibility, List<int> output)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
                output.Add(TBase + s % TCount);
            return;
        }
        if (DecompositionIndex.TryGetValue(cp, out int index))
        {
            uint start = UnicodeTables.DecompositionStarts[index];
            bool isCompat = (start & 0x80000000) != 0;
            if (!isCompat || compatibility)
            {
                int from = (int)(start & 0x7FFFFFFF), to = (int)(UnicodeTables.DecompositionStarts[index + 1] & 0x7FFFFFFF);
                for (int k = from; k < to; k++)
                    DecomposeInto(UnicodeTables.DecompositionData[k], compatibility, output);
                return;
            }
        }
        output.Add(cp);
    }

    private static List<int> Compose(List<int> cps)
    {
        var result = new List<int>(cps.Count);
        int starter = -1;
        int lastClass = 0;
        foreach (int cp in cps)
        {
            int cc = CombiningClass(cp);
            if (starter >= 0)
            {
                bool blocked = result.Count - 1 != starter && (lastClass == 0 || lastClass >= cc);
                if (!blocked && TryCompose(result[starter], cp, out int composite))
                {
                    result[starter] = composite;
                    continue;
                }
            }
            if (cc == 0)
                starter = result.Count;
            result.Add(cp);
            lastClass = cc;
        }
        return result;
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        if (first >= LBase && first < LBase + LCount && second >= VBase && second < VBase + VCount)
        {
            composite = SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            return true;
        }
        if (first >= SBase && first < SBase + SCount && (first - SBase) % TCount == 0 && second > TBase && second < TBase + TCount)
        {
            composite = first + (second - TBase);
            return true;
        }
        return Composites.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private static string Build(List<int> cps)
    {
        var sb = new StringBuilder(cps.Count + 4);
        foreach (int cp in cps)
        {
            if (cp < 0x10000)
                sb.Append((char)cp);
            else
                sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    private static Dictionary<int, int> BuildDecompositionIndex()
    {
        var keys = UnicodeTables.DecompositionKeys;
        var index = new Dictionary<int, int>(keys.Length);
        for (int i = 0; i < keys.Length; i++)
            index[keys[i]] = i;
        return index;
    }

    private static Dictionary<int, byte> BuildClasses()
    {
        var pairs = UnicodeTables.CombiningClasses;
        var classes = new Dictionary<int, byte>(pairs.Length / 2);
        for (int i = 0; i < pairs.Length; i += 2)
            classes[pairs[i]] = (byte)pairs[i + 1];
        return classes;
    }

    private static Dictionary<long, int> BuildComposites()
    {
        var triples = UnicodeTables.Compositions;
        var composites = new Dictionary<long, int>(triples.Length / 3);
        for (int i = 0; i < triples.Length; i += 3)
            composites[((long)triples[i] << 21) | (uint)triples[i + 1]] = triples[i + 2];
        return composites;
    }
}
