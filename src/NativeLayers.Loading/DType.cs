namespace NativeLayers.Loading;

/// <summary>Element types of safetensors files (names as the format spells them).</summary>
public enum DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL }

public static class DTypes
{
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        _ => 1,
    };

    public static bool IsFloat(this DType dtype) => dtype is DType.F64 or DType.F32 or DType.F16 or DType.BF16;

    /// <summary>
    /// Exact, case-sensitive match of a safetensors dtype name. (Enum.TryParse is not used: it trims whitespace and
    /// accepts comma lists such as "F32,F16", which it ORs into another member.)
    /// </summary>
    public static bool TryParse(string text, out DType dtype)
    {
        foreach (var candidate in Enum.GetValues<DType>())
        {
            if (candidate.ToString() == text)
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    public static string Name(this DType dtype) => dtype.ToString();
}
