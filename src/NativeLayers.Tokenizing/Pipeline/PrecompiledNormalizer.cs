using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>
/// SentencePiece's precompiled character map (T5, mT5, XLM-R, ALBERT): a Darts double-array trie over UTF-8 byte
/// sequences whose leaves point at replacement strings. Applied per grapheme cluster exactly as Hugging Face's
/// Precompiled normaliser does: a whole cluster shorter than 6 bytes is looked up first, then each character.
/// </summary>
internal sealed class PrecompiledNormalizer : INormalizer
{
    private readonly uint[] _trie;
    private readonly byte[] _normalized;

    public PrecompiledNormalizer(byte[] charsmap)
    {
        if (charsmap.Length < 4)
            throw new FormatException("precompiled_charsmap is too short");
        uint trieSize = BinaryPrimitives.ReadUInt32LittleEndian(charsmap);
        if (trieSize % 4 != 0 || 4 + (long)trieSize > charsmap.Length)
            throw new FormatException("precompiled_charsmap has a bad trie size");
        _trie = new uint[trieSize / 4];
        for (int i = 0; i < _trie.Length; i++)
            _trie[i] = BinaryPrimitives.ReadUInt32LittleEndian(charsmap.AsSpan(4 + i * 4));
        _normalized = charsmap[(4 + (int)trieSize)..];
        if (_trie.Length == 0)
            throw new FormatException("precompiled_charsmap has an empty trie");
    }

    public string Normalize(string text)
    {
        if (text.Length == 0)
            return text;
        var sb = new StringBuilder(text.Length + 8);
        for (int i = 0; i < text.Length;)
        {
            int length = StringInfo.GetNextTextElementLength(text.AsSpan(i));
            if (length <= 0)
                length = 1;
            string grapheme = text.Substring(i, length);
            i += length;
            byte[] bytes = Encoding.UTF8.GetBytes(grapheme);
            if (bytes.Length < 6 && Transform(bytes) is { } whole)
            {
                sb.Append(whole);
                continue;
            }
            for (int k = 0; k < grapheme.Length;)
            {
                int width = char.IsHighSurrogate(grapheme[k]) && k + 1 < grapheme.Length && char.IsLowSurrogate(grapheme[k + 1]) ? 2 : 1;
                string part = grapheme.Substring(k, width);
                k += width;
                sb.Append(Transform(Encoding.UTF8.GetBytes(part)) ?? part);
            }
        }
        return sb.ToString();
    }

    /// <summary>The replacement of the shortest key that is a prefix of <paramref name="key"/>, or null.</summary>
    private string? Transform(byte[] key)
    {
        int nodePos = 0;
        uint unit = _trie[nodePos];
        nodePos ^= Offset(unit);
        foreach (byte c in key)
        {
            if (c == 0)
                break;
            nodePos ^= c;
            if ((uint)nodePos >= (uint)_trie.Length)
                return null;
            unit = _trie[nodePos];
            if (Label(unit) != c)
                return null;
            nodePos ^= Offset(unit);
            if (HasLeaf(unit))
            {
                if ((uint)nodePos >= (uint)_trie.Length)
                    return null;
                int index = (int)Value(_trie[nodePos]);
                if (index >= _normalized.Length)
                    return null;
                int end = index;
                while (end < _normalized.Length && _normalized[end] != 0)
                    end++;
                return Encoding.UTF8.GetString(_normalized, index, end - index);
            }
        }
        return null;
    }

    private static bool HasLeaf(uint unit) => ((unit >> 8) & 1) == 1;

    private static uint Value(uint unit) => unit & ((1u << 31) - 1);

    private static uint Label(uint unit) => unit & ((1u << 31) | 0xFF);

    private static int Offset(uint unit) => (int)((unit >> 10) << (int)((unit & (1u << 9)) >> 6));
}
