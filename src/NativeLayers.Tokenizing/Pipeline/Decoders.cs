using System.Globalization;
using System.Text;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>A tokenizer.json decoder: rewrites the list of token strings; the decoded text is their concatenation.</summary>
internal interface IDecoder
{
    List<string> DecodeChain(List<string> tokens);
}

internal static class DecoderExtensions
{
    public static string Decode(this IDecoder decoder, List<string> tokens) => string.Concat(decoder.DecodeChain(tokens));
}

internal sealed class SequenceDecoder(IReadOnlyList<IDecoder> decoders) : IDecoder
{
    public IReadOnlyList<IDecoder> Decoders => decoders;

    public List<string> DecodeChain(List<string> tokens)
    {
        foreach (var decoder in decoders)
            tokens = decoder.DecodeChain(tokens);
        return tokens;
    }
}

/// <summary>Byte-level tokens back to bytes, then to text (invalid UTF-8 becomes U+FFFD).</summary>
internal sealed class ByteLevelDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
            bytes.AddRange(ByteLevelAlphabet.ToBytes(token));
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }
}

/// <summary>Joins WordPiece pieces: "##" pieces glue on, others get a space; cleanup removes spaces before punctuation and contractions.</summary>
internal sealed class WordPieceDecoder(string prefix, bool cleanup) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (i != 0)
                token = token.StartsWith(prefix, StringComparison.Ordinal) ? ReplaceFirst(token, prefix) : " " + token;
            if (cleanup)
                token = Cleanup(token);
            result.Add(token);
        }
        return result;
    }

    private static string ReplaceFirst(string token, string prefix)
    {
        int index = token.IndexOf(prefix, StringComparison.Ordinal);
        return index < 0 ? token : token.Remove(index, prefix.Length);
    }

    public static string Cleanup(string text) => text
        .Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" do not", " don't", StringComparison.Ordinal)
        .Replace(" 's", "'s", StringComparison.Ordinal).Replace(" 've", "'ve", StringComparison.Ordinal)
        .Replace(" 're", "'re", StringComparison.Ordinal);
}

/// <summary>"▁" back to spaces; the first token's leading one is dropped unless the prepend scheme is "never".</summary>
internal sealed class MetaspaceDecoder(char replacement, PrependScheme scheme) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            var sb = new StringBuilder(tokens[i].Length);
            foreach (char c in tokens[i])
            {
                if (c != replacement)
                    sb.Append(c);
                else if (!(i == 0 && scheme != PrependScheme.Never))
                    sb.Append(' ');
            }
            result.Add(sb.ToString());
        }
        return result;
    }
}

/// <summary>Runs of &lt;0xNN&gt; tokens become the text their bytes spell (one U+FFFD per byte when they are not valid UTF-8).</summary>
internal sealed class ByteFallbackDecoder : IDecoder
{
    public static bool TryByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        foreach (string token in tokens)
        {
            if (TryByte(token, out byte b))
            {
                pending.Add(b);
                continue;
            }
            Flush();
            result.Add(token);
        }
        Flush();
        return result;

        void Flush()
        {
            if (pending.Count == 0)
                return;
            try
            {
                result.Add(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(pending.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                for (int i = 0; i < pending.Count; i++)
                    result.Add("\uFFFD");
            }
            pending.Clear();
        }
    }
}

internal sealed class FuseDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from every token.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        foreach (string token in tokens)
        {
            int from = 0;
            while (from < start && from < token.Length && token[from] == content)
                from++;
            int to = token.Length;
            for (int i = 0; i < stop && to > from && token[to - 1] == content; i++)
                to--;
            result.Add(token[from..to]);
        }
        return result;
    }
}

internal sealed class ReplaceDecoder(string? literal, UnicodeRegex? regex, string content) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) =>
        [.. tokens.Select(t => regex is not null ? regex.Replace(t, content) : literal!.Length == 0 ? t : t.Replace(literal, content, StringComparison.Ordinal))];
}

/// <summary>Classic BPE's end-of-word suffix (e.g. "&lt;/w&gt;") back to spaces; none after the last token.</summary>
internal sealed class BpeDecoder(string suffix) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
            result.Add(suffix.Length == 0 ? tokens[i] : tokens[i].Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal));
        return result;
    }
}
