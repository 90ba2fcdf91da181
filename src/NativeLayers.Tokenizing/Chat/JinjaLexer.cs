using System.Globalization;
using System.Text;

namespace NativeLayers.Tokenizing.Chat;

internal enum TokenKind { Text, OutputStart, OutputEnd, BlockStart, BlockEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct JinjaToken(TokenKind Kind, string Value, int Offset);

/// <summary>
/// Splits a template into text and tag tokens as Hugging Face's chat-template environment does: whitespace control
/// ({%- -%}), trim_blocks (the newline after a block tag goes) and lstrip_blocks (indentation before a block tag goes).
/// </summary>
internal static class JinjaLexer
{
    private static readonly string[] Operators = ["==", "!=", "<=", ">=", "//", "**", "<", ">", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "="];

    public static List<JinjaToken> Tokenize(string source)
    {
        var tokens = new List<JinjaToken>();
        int i = 0;
        bool lineStart = true; // the text that follows begins a line (as Jinja's lexer tracks it for lstrip_blocks)
        while (i < source.Length)
        {
            int open = FindTagStart(source, i);
            if (open < 0)
            {
                Add(tokens, source[i..], i);
                break;
            }
            string text = source[i..open];
            char kind = source[open + 1];
            bool stripBefore = open + 2 < source.Length && source[open + 2] == '-';
            bool keepBefore = open + 2 < source.Length && source[open + 2] == '+';
            if (stripBefore) text = text.TrimEnd();
            else if (kind != '{' && !keepBefore) text = StripLineIndent(text, lineStart);
            Add(tokens, text, i);
            int inner = open + 2 + (stripBefore || keepBefore ? 1 : 0);
            bool stripAfter;
            if (kind == '#')
            {
                int close = source.IndexOf("#}", inner, StringComparison.Ordinal);
                if (close < 0) throw new ChatTemplateException($"a comment opened at offset {open} is never closed.");
                stripAfter = close - 1 >= inner && source[close - 1] == '-';
                i = close + 2;
            }
            else
            {
                tokens.Add(new JinjaToken(kind == '{' ? TokenKind.OutputStart : TokenKind.BlockStart, "", open));
                i = LexTag(source, inner, kind == '{' ? "}}" : "%}", tokens, out stripAfter);
                tokens.Add(new JinjaToken(kind == '{' ? TokenKind.OutputEnd : TokenKind.BlockEnd, "", i));
            }
            lineStart = false;
            if (stripAfter)
            {
                int from = i;
                while (i < source.Length && char.IsWhiteSpace(source[i])) i++;
                lineStart = i > from && source[i - 1] == '\n';
            }
            else if (kind != '{' && i < source.Length && source[i] == '\n')
            {
                i++; // trim_blocks
                lineStart = true;
            }
        }
        tokens.Add(new JinjaToken(TokenKind.End, "", source.Length));
        return tokens;
    }

    private static void Add(List<JinjaToken> tokens, string text, int offset)
    {
        if (text.Length > 0) tokens.Add(new JinjaToken(TokenKind.Text, text, offset));
    }

    private static int FindTagStart(string source, int from)
    {
        for (int i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
            if (source[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>lstrip_blocks: spaces and tabs between the start of a line and a block tag are dropped.</summary>
    private static string StripLineIndent(string text, bool startsLine)
    {
        int end = text.Length;
        while (end > 0 && text[end - 1] is ' ' or '\t') end--;
        return (end == 0 && startsLine) || (end > 0 && text[end - 1] == '\n') ? text[..end] : text;
    }

    /// <summary>Lexes the inside of a tag up to its closing delimiter; returns the offset after it.</summary>
    private static int LexTag(string source, int i, string close, List<JinjaToken> tokens, out bool stripAfter)
    {
        while (true)
        {
            while (i < source.Length && char.IsWhiteSpace(source[i])) i++;
            if (i >= source.Length) throw new ChatTemplateException($"a tag is not closed with '{close}'.");
            if (source[i] == '-' && string.CompareOrdinal(source, i + 1, close, 0, 2) == 0)
            {
                stripAfter = true;
                return i + 3;
            }
            if (string.CompareOrdinal(source, i, close, 0, 2) == 0)
            {
                stripAfter = false;
                return i + 2;
            }
            char c = source[i];
            if (char.IsLetter(c) || c == '_')
            {
                int start = i;
                while (i < source.Length && (char.IsLetterOrDigit(source[i]) || source[i] == '_')) i++;
                tokens.Add(new JinjaToken(TokenKind.Name, source[start..i], start));
            }
            else if (char.IsDigit(c))
            {
                int start = i;
                while (i < source.Length && (char.IsDigit(source[i]) || source[i] == '_')) i++;
                bool isFloat = i + 1 < source.Length && source[i] == '.' && char.IsDigit(source[i + 1]);
                if (isFloat)
                {
                    i++;
                    while (i < source.Length && char.IsDigit(source[i])) i++;
                }
                tokens.Add(new JinjaToken(isFloat ? TokenKind.Float : TokenKind.Integer, source[start..i].Replace("_", ""), start));
            }
            else if (c is '\'' or '"')
            {
                int start = i;
                tokens.Add(new JinjaToken(TokenKind.String, ReadString(source, ref i), start));
            }
            else
            {
                string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(source, i, o, 0, o.Length) == 0);
                if (op == null) throw new ChatTemplateException($"unexpected character '{c}' at offset {i}.");
                tokens.Add(new JinjaToken(TokenKind.Operator, op, i));
                i += op.Length;
            }
        }
    }

    private static string ReadString(string source, ref int i)
    {
        char quote = source[i++];
        var value = new StringBuilder();
        while (i < source.Length && source[i] != quote)
        {
            char c = source[i++];
            if (c != '\\') { value.Append(c); continue; }
            if (i >= source.Length) break;
            char e = source[i++];
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'u' when i + 4 <= source.Length:
                    value.Append((char)int.Parse(source.AsSpan(i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default: value.Append('\\').Append(e); break;
            }
        }
        if (i >= source.Length) throw new ChatTemplateException("a string literal is not closed.");
        i++;
        return value.ToString();
    }
}
