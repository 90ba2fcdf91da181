using System.Text;

namespace NativeLayers.Tokenizing;

/// <summary>GPT-2's byte-level alphabet: every byte is written as one printable character in vocabulary strings.</summary>
internal static class ByteLevelAlphabet
{
    private static readonly Dictionary<char, byte> CharToByte = Build();

    private static Dictionary<char, byte> Build()
    {
        var map = new Dictionary<char, byte>(256);
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[printable ? (char)b : (char)(256 + shifted++)] = (byte)b;
        }
        return map;
    }

    /// <summary>The bytes a vocabulary string stands for; characters outside the alphabet count as their UTF-8.</summary>
    public static byte[] ToBytes(string token)
    {
        var bytes = new List<byte>(token.Length);
        foreach (char c in token)
        {
            if (CharToByte.TryGetValue(c, out byte b))
                bytes.Add(b);
            else
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return [.. bytes];
    }
}
