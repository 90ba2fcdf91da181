namespace NativeLayers.GgufConvert;

/// <summary>GGUF v3 constants (ggml's docs/gguf.md): the magic, the metadata value types and the tensor types written here.</summary>
public static class GgufFormat
{
    /// <summary>"GGUF" as the first four bytes of the file.</summary>
    public static ReadOnlySpan<byte> Magic => "GGUF"u8;
    public const uint Version = 3;
    public const uint DefaultAlignment = 32;
}

/// <summary>The u32 written before every metadata value (and before an array's elements).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>The ggml tensor types the converter writes (ggml_type numbering).</summary>
public enum GgmlType : uint { F32 = 0, F16 = 1, BF16 = 30 }

/// <summary>llama.cpp's llama_ftype for general.file_type: what most of the tensors are.</summary>
public static class GgufFileType
{
    public static uint Of(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,  // LLAMA_FTYPE_ALL_F32
        GgmlType.F16 => 1,  // LLAMA_FTYPE_MOSTLY_F16
        GgmlType.BF16 => 32, // LLAMA_FTYPE_MOSTLY_BF16
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no llama file type for this tensor type."),
    };
}

/// <summary>Token kinds of tokenizer.ggml.token_type (the same numbering as SentencePiece's piece types).</summary>
public enum GgufTokenType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

public static class GgmlTypes
{
    public static int ElementSize(this GgmlType type) => type == GgmlType.F32 ? 4 : 2;

    public static GgmlType Parse(string text) => text.ToLowerInvariant() switch
    {
        "f32" => GgmlType.F32,
        "f16" => GgmlType.F16,
        "bf16" => GgmlType.BF16,
        _ => throw new ArgumentException($"--dtype must be f32, f16 or bf16, got '{text}'."),
    };
}
