using System.Buffers.Binary;
using System.Runtime.InteropServices;
using NativeLayers.Loading;

namespace NativeLayers.GgufConvert;

/// <summary>A safetensors tensor's bytes in a GGUF tensor type (F32, F16, BF16 sources; F16 and BF16 by way of float).</summary>
public static class TensorBytes
{
    public static byte[] Convert(string name, DType source, ReadOnlySpan<byte> bytes, GgmlType target)
    {
        if (SameType(source, target)) return bytes.ToArray();
        float[] floats = ToFloats(name, source, bytes);
        return target switch
        {
            GgmlType.F32 => MemoryMarshal.AsBytes(floats.AsSpan()).ToArray(),
            GgmlType.F16 => ToHalfBytes(floats),
            GgmlType.BF16 => ToBFloat16Bytes(floats),
            _ => throw new ArgumentOutOfRangeException(nameof(target), target, "unsupported GGUF tensor type."),
        };
    }

    private static bool SameType(DType source, GgmlType target) =>
        (source, target) is (DType.F32, GgmlType.F32) or (DType.F16, GgmlType.F16) or (DType.BF16, GgmlType.BF16);

    public static float[] ToFloats(string name, DType source, ReadOnlySpan<byte> bytes)
    {
        switch (source)
        {
            case DType.F32:
                return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            case DType.F16:
            {
                var halves = MemoryMarshal.Cast<byte, Half>(bytes);
                var floats = new float[halves.Length];
                for (int i = 0; i < floats.Length; i++) floats[i] = (float)halves[i];
                return floats;
            }
            case DType.BF16:
            {
                var floats = new float[bytes.Length / 2];
                for (int i = 0; i < floats.Length; i++)
                    floats[i] = BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) << 16);
                return floats;
            }
            default:
                throw new NotSupportedException($"tensor {name}: dtype {source} cannot be converted (F32, F16 and BF16 can).");
        }
    }

    private static byte[] ToHalfBytes(float[] floats)
    {
        var halves = new Half[floats.Length];
        for (int i = 0; i < floats.Length; i++) halves[i] = (Half)floats[i]; // round to nearest even
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }

    /// <summary>Round to nearest even, NaN kept a quiet NaN (as gguf-py rounds).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x0040);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    private static byte[] ToBFloat16Bytes(float[] floats)
    {
        var bytes = new byte[floats.Length * 2];
        for (int i = 0; i < floats.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), ToBFloat16(floats[i]));
        return bytes;
    }
}

/// <summary>
/// Hugging Face Llama checkpoints store q_proj / k_proj rows for rotate-half rotary (a head's first half of dims pairs
/// with its second half); llama.cpp's LLAMA architecture rotates adjacent pairs. convert_hf_to_gguf.py therefore
/// permutes each head's rows: GGUF row 2i + s of a head is HF row s · headDim/2 + i (s = 0, 1), which gives the same
/// attention scores (q and k move together).
/// </summary>
public static class RotaryRowPermutation
{
    public static byte[] ToInterleaved(byte[] rows, int rowCount, int heads) => Permute(rows, rowCount, heads, toInterleaved: true);

    /// <summary>The inverse: llama.cpp's adjacent-pair rows back to Hugging Face's rotate-half rows.</summary>
    public static byte[] ToRotateHalf(byte[] rows, int rowCount, int heads) => Permute(rows, rowCount, heads, toInterleaved: false);

    private static byte[] Permute(byte[] rows, int rowCount, int heads, bool toInterleaved)
    {
        int rowBytes = CheckShape(rows, rowCount, heads, out int headDim);
        var output = new byte[rows.Length];
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < headDim / 2; i++)
        for (int s = 0; s < 2; s++)
        {
            int rotateHalf = h * headDim + s * (headDim / 2) + i, interleaved = h * headDim + 2 * i + s;
            var (from, to) = toInterleaved ? (rotateHalf, interleaved) : (interleaved, rotateHalf);
            rows.AsSpan(from * rowBytes, rowBytes).CopyTo(output.AsSpan(to * rowBytes, rowBytes));
        }
        return output;
    }

    private static int CheckShape(byte[] rows, int rowCount, int heads, out int headDim)
    {
        if (heads <= 0 || rowCount % heads != 0 || rowCount / heads % 2 != 0 || rows.Length % rowCount != 0)
            throw new ArgumentException($"{rowCount} rows of {rows.Length} bytes do not split into {heads} heads of an even head size.");
        headDim = rowCount / heads;
        return rows.Length / rowCount;
    }
}
