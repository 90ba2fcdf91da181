using System.Text;

namespace NativeLayers.Tokenizing;

/// <summary>GPT-2's byte-level alphabet: every byte is written as one printable character in vocabulary strings.</summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = new char[256];
    private static readonly Dictionary<char, byte> CharToByte = Build();

    private static Dictionary<char, byte> Build()
    {
        var map = new Dictionary<char, byte>(256);
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            char c = printable ? (char)b : (char)(256 + shifted++);
            map[c] = (byte)b;
            ByteToChar[b] = c;
        }
        return map;
    }

    /// <summary>The text's UTF-8 bytes, each written as its alphabet character.</summary>
    public static string ToAlphabet(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>
    /// The bytes a vocabulary string stands for. As in Hugging Face's ByteLevel decoder, a token with any character
    /// outside the alphabet (an added token such as a run of plain spaces) counts as its own UTF-8.
    /// </summary>
    public static byte[] ToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out bytes[i]))
                return Encoding.UTF8.GetBytes(token);
        }
        return bytes;
    }
}
