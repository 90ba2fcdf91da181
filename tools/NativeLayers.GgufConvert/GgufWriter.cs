using System.Buffers.Binary;
using System.Text;

namespace NativeLayers.GgufConvert;

/// <summary>
/// A tensor to write: its GGUF name, its dimensions in ggml order (ne[0] = the contiguous one, so a PyTorch
/// [rows, columns] matrix is [columns, rows]), its type, and a callback that produces exactly its bytes.
/// </summary>
public sealed record GgufTensor(string Name, long[] Dimensions, GgmlType Type, Func<byte[]> Bytes)
{
    public long ByteLength => Dimensions.Aggregate(1L, (a, b) => a * b) * Type.ElementSize();
}

/// <summary>
/// Writes a GGUF v3 file: header (magic, version, tensor count, metadata count), the metadata entries, the tensor
/// infos (offsets relative to the data section), padding to the alignment, then each tensor's bytes padded to the
/// alignment. Tensors are produced one at a time, so only one is in memory.
/// </summary>
public static class GgufWriter
{
    public static void Write(Stream stream, GgufMetadata metadata, IReadOnlyList<GgufTensor> tensors, uint alignment = GgufFormat.DefaultAlignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentException($"GGUF alignment must be a power of two, got {alignment}.");
        var output = new CountingWriter(stream);
        output.Bytes(GgufFormat.Magic);
        output.U32(GgufFormat.Version);
        output.U64((ulong)tensors.Count);
        output.U64((ulong)metadata.Entries.Count);
        foreach (var entry in metadata.Entries)
        {
            output.String(entry.Key);
            output.U32((uint)entry.Type);
            WriteValue(output, entry);
        }
        long offset = 0;
        foreach (var tensor in tensors)
        {
            output.String(tensor.Name);
            output.U32((uint)tensor.Dimensions.Length);
            foreach (long d in tensor.Dimensions) output.U64((ulong)d);
            output.U32((uint)tensor.Type);
            output.U64((ulong)offset);
            offset = Align(offset + tensor.ByteLength, alignment);
        }
        output.PadTo(alignment);
        foreach (var tensor in tensors)
        {
            byte[] bytes = tensor.Bytes();
            if (bytes.LongLength != tensor.ByteLength)
                throw new InvalidOperationException($"tensor {tensor.Name}: produced {bytes.LongLength} bytes, its shape needs {tensor.ByteLength}.");
            output.Bytes(bytes);
            output.PadTo(alignment);
        }
    }

    public static long Align(long offset, long alignment) => (offset + alignment - 1) / alignment * alignment;

    private static void WriteValue(CountingWriter output, GgufEntry entry)
    {
        switch (entry.Type)
        {
            case GgufValueType.String: output.String((string)entry.Value); break;
            case GgufValueType.UInt32: output.U32((uint)entry.Value); break;
            case GgufValueType.Float32: output.U32(BitConverter.SingleToUInt32Bits((float)entry.Value)); break;
            case GgufValueType.Bool: output.Bytes([(bool)entry.Value ? (byte)1 : (byte)0]); break;
            case GgufValueType.Array: WriteArray(output, entry); break;
            default: throw new NotSupportedException($"GGUF metadata '{entry.Key}': value type {entry.Type} is not written by this converter.");
        }
    }

    private static void WriteArray(CountingWriter output, GgufEntry entry)
    {
        output.U32((uint)entry.ElementType);
        switch (entry.Value)
        {
            case IReadOnlyList<string> strings when entry.ElementType == GgufValueType.String:
                output.U64((ulong)strings.Count);
                foreach (var s in strings) output.String(s);
                break;
            case IReadOnlyList<float> floats when entry.ElementType == GgufValueType.Float32:
                output.U64((ulong)floats.Count);
                foreach (var f in floats) output.U32(BitConverter.SingleToUInt32Bits(f));
                break;
            case IReadOnlyList<int> ints when entry.ElementType == GgufValueType.Int32:
                output.U64((ulong)ints.Count);
                foreach (var i in ints) output.U32(unchecked((uint)i));
                break;
            default:
                throw new NotSupportedException($"GGUF metadata '{entry.Key}': an array of {entry.ElementType} from {entry.Value.GetType().Name} is not written by this converter.");
        }
    }

    /// <summary>Little-endian primitives over a stream, counting the bytes written (for padding).</summary>
    private sealed class CountingWriter(Stream stream)
    {
        private readonly byte[] _scratch = new byte[8];
        private long _position;

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            stream.Write(bytes);
            _position += bytes.Length;
        }

        public void U32(uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_scratch, value);
            Bytes(_scratch.AsSpan(0, 4));
        }

        public void U64(ulong value)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_scratch, value);
            Bytes(_scratch.AsSpan(0, 8));
        }

        public void String(string text)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text);
            U64((ulong)utf8.Length);
            Bytes(utf8);
        }

        public void PadTo(uint alignment)
        {
            int pad = (int)(Align(_position, alignment) - _position);
            if (pad > 0) Bytes(new byte[pad]);
        }
    }
}
