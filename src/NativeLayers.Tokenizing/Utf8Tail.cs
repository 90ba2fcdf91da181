namespace NativeLayers.Tokenizing;

/// <summary>Checks whether a byte sequence stops in the middle of a UTF-8 encoded character.</summary>
internal static class Utf8Tail
{
    /// <summary>How many bytes at the end belong to a character that is not finished (0 when the text ends cleanly).</summary>
    public static int IncompleteLength(IReadOnlyList<byte> bytes)
    {
        int continuation = 0;
        for (int i = bytes.Count - 1; i >= 0 && continuation < 4; i--)
        {
            byte b = bytes[i];
            if ((b & 0xC0) == 0x80)
            {
                continuation++;
                continue;
            }
            int needed = b >= 0xF0 && b <= 0xF4 ? 3 : b >= 0xE0 && b < 0xF0 ? 2 : b >= 0xC2 && b < 0xE0 ? 1 : 0;
            return continuation < needed ? continuation + 1 : 0;
        }
        return 0;
    }
}
