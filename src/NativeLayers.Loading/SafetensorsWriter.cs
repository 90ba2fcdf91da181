using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace NativeLayers.Loading;

/// <summary>A tensor to write: raw little-endian bytes with their dtype and shape.</summary>
public sealed record TensorData(string Name, DType DType, long[] Shape, ReadOnlyMemory<byte> Bytes)
{
    public static TensorData FromFloats(string name, long[] shape, float[] values) =>
        new(name, DType.F32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static TensorData FromInt64(string name, long[] shape, long[] values) =>
        new(name, DType.I64, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
}

/// <summary>
/// Writes safetensors files the way the reference implementation does: 8-byte little-endian header length, a
/// compact JSON header with <c>__metadata__</c> first, padded with spaces to a multiple of 8, then the data.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes the tensors in the given order (their data follows the header in that order). The file appears only
    /// when complete (see <see cref="StagedFiles"/>).
    /// </summary>
    public static void Write(string path, IEnumerable<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors, metadata, hash: null);

    /// <summary>Writes as <see cref="Write(string, IEnumerable{TensorData}, IReadOnlyDictionary{string, string}?)"/> and returns the file's SHA-256, computed from the bytes as they are written (no second read).</summary>
    public static byte[] WriteWithSha256(string path, IEnumerable<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Write(path, tensors, metadata, hash);
        return hash.GetHashAndReset();
    }

    private static void Write(string path, IEnumerable<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata, IncrementalHash? hash)
    {
        var list = tensors.ToList();
        byte[] header = BuildHeader(list, metadata);
        StagedFiles.Write(path, stream =>
        {
            void Put(ReadOnlySpan<byte> bytes)
            {
                stream.Write(bytes);
                hash?.AppendData(bytes);
            }
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            Put(length);
            Put(header);
            foreach (var t in list) Put(t.Bytes.Span);
        });
    }

    private static byte[] BuildHeader(List<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata)
                    json.WriteString(k, v ?? throw new NativeLayersException($"cannot write metadata '{k}': the value is null."));
                json.WriteEndObject();
            }
            long offset = 0;
            var names = new HashSet<string>();
            foreach (var t in tensors)
            {
                if (t.Name == "__metadata__" || !names.Add(t.Name))
                    throw new NativeLayersException($"cannot write tensor '{t.Name}': the name is reserved or repeated.");
                if (!Enum.IsDefined(t.DType))
                    throw new NativeLayersException($"cannot write tensor '{t.Name}': {(int)t.DType} is not a dtype.");
                long? needed = SafetensorsHeader.ByteLength(t.Shape, t.DType);
                if (needed == null)
                    throw new NativeLayersException($"cannot write tensor '{t.Name}': shape {SafetensorsHeader.FormatShape(t.Shape)} has a negative dimension or is too large.");
                if (needed != t.Bytes.Length)
                    throw new NativeLayersException($"cannot write tensor '{t.Name}': shape {SafetensorsHeader.FormatShape(t.Shape)} of {t.DType} needs {needed} bytes, got {t.Bytes.Length}.");
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.Name());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Bytes.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Bytes.Length;
            }
            json.WriteEndObject();
        }
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
