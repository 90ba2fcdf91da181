using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;

namespace NativeLayers.Loading;

/// <summary>Parses and validates a safetensors header against the size of the file it came from.</summary>
internal static class SafetensorsHeader
{
    /// <summary>The reference implementation refuses headers above 100 MB; so do we (no huge allocation on a lying length).</summary>
    public const long MaxHeaderBytes = 100_000_000;
    public const int MaxRank = 16;

    /// <summary>Reads the 8-byte little-endian header length and checks it against the file size before anything is allocated.</summary>
    public static long ReadHeaderLength(string path, Stream stream, long fileLength)
    {
        if (fileLength < 8)
            throw new ModelFileException(path, $"not a safetensors file: {fileLength} bytes, shorter than the 8-byte header length.");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n == 0)
            throw new ModelFileException(path, "safetensors header length is 0; the file is truncated or not a safetensors file.");
        if (n > MaxHeaderBytes)
            throw new ModelFileException(path, $"safetensors header length {n} is larger than the 100 MB limit; the file is corrupt or not a safetensors file.");
        if ((long)n > fileLength - 8)
            throw new ModelFileException(path, $"safetensors header length {n} runs past the end of the file ({fileLength} bytes); the file is truncated.");
        return (long)n;
    }

    /// <summary>Parses the header JSON; every tensor must lie inside a data region of <paramref name="dataLength"/> bytes.</summary>
    public static (List<TensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(string path, ReadOnlyMemory<byte> json, long dataLength)
    {
        if (!Utf8.IsValid(json.Span))
            throw new ModelFileException(path, "safetensors header is not valid UTF-8.");
        if (json.Span[0] != (byte)'{')
            throw new ModelFileException(path, "safetensors header must start with '{' (a JSON object).");
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
            var tensors = new List<TensorInfo>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new ModelFileException(path, $"tensor '{prop.Name}' appears twice in the safetensors header.");
                if (prop.Name == "__metadata__")
                    ParseMetadata(path, prop.Value, metadata);
                else
                    tensors.Add(ParseTensor(path, prop.Name, prop.Value, dataLength));
            }
            SortAndCheckNoOverlap(path, tensors);
            return (tensors, metadata);
        }
        catch (JsonException e)
        {
            throw new ModelFileException(path, $"safetensors header is not valid JSON ({e.Message}).");
        }
        catch (InvalidOperationException e)
        {
            // JsonElement.GetString on an escaped lone surrogate ("\ud800") cannot produce a .NET string.
            throw new ModelFileException(path, $"safetensors header holds a string that is not valid text ({e.Message}).");
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null) return; // the reference reads "__metadata__": null as no metadata
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFileException(path, "safetensors '__metadata__' must be an object of strings.");
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new ModelFileException(path, $"safetensors '__metadata__' entry '{entry.Name}' is not a string.");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                throw new ModelFileException(path, $"safetensors '__metadata__' entry '{entry.Name}' appears twice.");
        }
    }

    private static TensorInfo ParseTensor(string path, string name, JsonElement value, long dataLength)
    {
        ModelFileException Error(string problem) => new(path, $"tensor '{name}': {problem}");
        if (value.ValueKind != JsonValueKind.Object)
            throw Error("header entry must be an object with dtype, shape and data_offsets.");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Error("missing or non-string 'dtype'.");
        string dtypeText = dtypeElement.GetString()!;
        if (!DTypes.TryParse(dtypeText, out var dtype))
            throw Error($"unsupported dtype '{Snippet(dtypeText)}' (supported: {string.Join(", ", Enum.GetNames<DType>())}).");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Error("missing or non-array 'shape'.");
        int rank = shapeElement.GetArrayLength();
        if (rank > MaxRank)
            throw Error($"rank {rank} is above the supported maximum of {MaxRank}.");
        var shape = new long[rank];
        int i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
            shape[i++] = ReadNonNegative(dim) ?? throw Error($"shape entry {Snippet(dim.GetRawText())} is not a non-negative integer.");
        long expected = ByteLength(shape, dtype) ?? throw Error($"shape {FormatShape(shape)} of {dtype} is too large to address.");

        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Error("'data_offsets' must be an array [begin, end].");
        long begin = ReadNonNegative(offsets[0]) ?? throw Error($"data offset {Snippet(offsets[0].GetRawText())} is not a non-negative integer.");
        long end = ReadNonNegative(offsets[1]) ?? throw Error($"data offset {Snippet(offsets[1].GetRawText())} is not a non-negative integer.");
        if (end < begin)
            throw Error($"data_offsets [{begin}, {end}] end before they begin.");
        if (end > dataLength)
            throw Error($"data_offsets [{begin}, {end}] run past the data region ({dataLength} bytes); the file is truncated or the header lies.");
        if (end - begin != expected)
            throw Error($"shape {FormatShape(shape)} of {dtype} needs {expected} bytes but data_offsets [{begin}, {end}] span {end - begin}.");
        return new TensorInfo(name, dtype, shape, begin, end - begin);
    }

    private static long? ReadNonNegative(JsonElement e) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) && v >= 0 ? v : null;

    /// <summary>Bytes a tensor of this shape needs, or null when that does not fit in a long (a lying shape).</summary>
    public static long? ByteLength(long[] shape, DType dtype)
    {
        long bytes = dtype.SizeOf();
        foreach (long d in shape)
        {
            if (d < 0) return null;
            if (d != 0 && bytes > long.MaxValue / d) return null;
            bytes *= d;
        }
        return bytes;
    }

    /// <summary>Puts the tensors in data order and rejects two tensors sharing a byte (empty tensors share none).</summary>
    private static void SortAndCheckNoOverlap(string path, List<TensorInfo> tensors)
    {
        tensors.Sort((a, b) => a.DataOffset != b.DataOffset ? a.DataOffset.CompareTo(b.DataOffset)
            : a.ByteLength != b.ByteLength ? a.ByteLength.CompareTo(b.ByteLength)
            : string.CompareOrdinal(a.Name, b.Name));
        TensorInfo? last = null; // the non-empty tensor that reaches furthest so far
        foreach (var cur in tensors)
        {
            if (cur.ByteLength == 0) continue;
            if (last != null && cur.DataOffset < last.DataOffset + last.ByteLength)
                throw new ModelFileException(path, $"tensors '{last.Name}' and '{cur.Name}' overlap in the data region "
                    + $"([{last.DataOffset}, {last.DataOffset + last.ByteLength}) and [{cur.DataOffset}, {cur.DataOffset + cur.ByteLength})).");
            last = cur;
        }
    }

    private static string Snippet(string text) => text.Length <= 40 ? text : text[..40] + "...";

    public static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
