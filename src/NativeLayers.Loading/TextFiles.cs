using System.Text;
using System.Text.Unicode;

namespace NativeLayers.Loading;

/// <summary>What to do with bytes that are not UTF-8 in a text file a user gives.</summary>
public enum EncodingErrors
{
    /// <summary>Refuse the file, naming the byte offset of the first invalid sequence.</summary>
    Strict,

    /// <summary>Read each invalid sequence as U+FFFD.</summary>
    Replace,
}

/// <summary>
/// Reads the text files a user gives (prompts, pairs, labelled data) as UTF-8. Strictly by default: silently replaced
/// bytes would change the prompts, and so every number computed from them, without a word.
/// </summary>
public static class TextFiles
{
    public static string ReadAll(string path, string what, EncodingErrors errors = EncodingErrors.Strict)
    {
        RequireFile(path, what);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException(path, $"cannot read the {what} file: {e.Message}", e);
        }
        int start = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0;
        var text = bytes.AsSpan(start);
        if (errors == EncodingErrors.Strict && !Utf8.IsValid(text))
        {
            int offset = start + FirstInvalidSequence(text);
            int line = bytes.AsSpan(0, offset).Count((byte)'\n') + 1;
            throw new ModelFileException(path,
                $"is not valid UTF-8: the first invalid byte sequence is at byte offset {offset} (line {line}). " +
                "Save the file as UTF-8, or pass --encoding-errors replace to read invalid bytes as U+FFFD.");
        }
        return Encoding.UTF8.GetString(text);
    }

    /// <summary>The file's lines, split as <see cref="File.ReadLines(string)"/> splits them (\n, \r\n or \r).</summary>
    public static List<string> ReadLines(string path, string what, EncodingErrors errors = EncodingErrors.Strict)
    {
        var lines = new List<string>();
        using var reader = new StringReader(ReadAll(path, what, errors));
        while (reader.ReadLine() is { } line) lines.Add(line);
        return lines;
    }

    /// <summary>Refuses a folder or a missing path, saying which it is.</summary>
    public static void RequireFile(string path, string what)
    {
        if (Directory.Exists(path)) throw new ModelFileException(path, $"is a directory, not a file (expected the {what} file).");
        if (!File.Exists(path)) throw new ModelFileException(path, $"{what} file not found.");
    }

    private static int FirstInvalidSequence(ReadOnlySpan<byte> text)
    {
        int offset = 0;
        while (offset < text.Length)
        {
            if (Rune.DecodeFromUtf8(text[offset..], out _, out int consumed) != System.Buffers.OperationStatus.Done) return offset;
            offset += consumed;
        }
        return offset;
    }
}
