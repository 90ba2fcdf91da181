using System.Text.Json;

namespace NativeLayers.Loading;

/// <summary>Parses and validates a safetensors header against the size of the file it came from.</summary>
internal static class SafetensorsHeader
{
    /// <summary>The reference implementation refuses headers above 100 MB; so do we (no huge allocation on a lying length).</summary>
    public const long MaxHeaderBytes = 100_000_000;
    public const int MaxRank = 16;

    public static long ReadHeaderLength(string path, Stream stream, long fileLength)
    {
        if (fileLength < 8)
            throw new ModelFileException(path, $"not a safetensors file: {fileLength} bytes, shorter than the 8-byte header length.");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong n = BitConverter.ToUInt64(prefix);
        if (n == 0)
            throw new ModelFileException(path, "safetensors header length is 0; the file is truncated or not a safetensors file.");
        if (n > MaxHeaderBytes)
            throw new ModelFileException(path, $"safetensors header length {n} is larger than the 100 MB limit; the file is corrupt or not a safetensors file.");
        if ((long)n > fileLength - 8)
            throw new ModelFileException(path, $"safetensors header length {n} runs past the end of the file ({fileLength} bytes); the file is truncated.");
        return (long)n;
    }

    public static (List<TensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(string path, ReadOnlySpan<byte> json, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new ModelFileException(path, $"safetensors header is not valid JSON ({e.Message}).");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFileException(path, "safetensors header must be a JSON object.");
            var tensors = new List<TensorInfo>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new ModelFileException(path, $"tensor '{prop.Name}' appears twice in the safetensors header.");
                if (prop.Name == "__metadata__")
                {
                    ParseMetadata(path, prop.Value, metadata);
                    continue;
                }
                tensors.Add(ParseTensor(path, prop.Name, prop.Value, dataLength));
            }
            CheckNoOverlap(path, tensors);
            return (tensors, metadata);
        }
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFileException(path, "safetensors '__metadata__' must be an object of strings.");
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new ModelFileException(path, $"safetensors '__metadata__' entry '{entry.Name}' is not a string.");
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static TensorInfo ParseTensor(string path, string name, JsonElement value, long dataLength)
    {
        string Where(string problem) => $"tensor '{name}': {problem}";
        if (value.ValueKind != JsonValueKind.Object)
            throw new ModelFileException(path, Where("header entry must be an object with dtype, shape and data_offsets."));
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new ModelFileException(path, Where("missing or non-string 'dtype'."));
        string dtypeText = dtypeElement.GetString()!;
        if (!DTypes.TryParse(dtypeText, out var dtype))
            throw new ModelFileException(path, Where($"unsupported dtype '{dtypeText}' (supported: {string.Join(", ", Enum.GetNames<DType>())})."));
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new ModelFileException(path, Where("missing or non-array 'shape'."));
        if (shapeElement.GetArrayLength() > MaxRank)
            throw new ModelFileException(path, Where($"rank {shapeElement.GetArrayLength()} is above the supported maximum of {MaxRank}."));
        var shape = new long[shapeElement.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0)
                throw new ModelFileException(path, Where($"shape entry {dim.GetRawText()} is not a non-negative integer."));
            shape[i++] = d;
            if (d != 0 && elements > long.MaxValue / d / 8)
                throw new ModelFileException(path, Where($"shape [{string.Join(", ", shape.Take(i))}...] is absurdly large."));
            elements *= d;
        }
        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new ModelFileException(path, Where("'data_offsets' must be an array [begin, end]."));
        long begin = ReadOffset(path, name, offsets[0]);
        long end = ReadOffset(path, name, offsets[1]);
        if (end < begin)
            throw new ModelFileException(path, Where($"data_offsets [{begin}, {end}] end before they begin."));
        if (end > dataLength)
            throw new ModelFileException(path, Where($"data_offsets [{begin}, {end}] run past the data region ({dataLength} bytes); the file is truncated or the header lies."));
        long expected = elements * dtype.SizeOf();
        if (end - begin != expected)
            throw new ModelFileException(path, Where($"shape {FormatShape(shape)} of {dtype} needs {expected} bytes but data_offsets [{begin}, {end}] span {end - begin}."));
        return new TensorInfo(name, dtype, shape, begin, end - begin);
    }

    private static long ReadOffset(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw new ModelFileException(path, $"tensor '{name}': data offset {e.GetRawText()} is not a non-negative integer.");
        return v;
    }

    private static void CheckNoOverlap(string path, List<TensorInfo> tensors)
    {
        tensors.Sort((a, b) => a.DataOffset != b.DataOffset ? a.DataOffset.CompareTo(b.DataOffset) : a.ByteLength.CompareTo(b.ByteLength));
        for (int i = 1; i < tensors.Count; i++)
        {
            var prev = tensors[i - 1];
            var cur = tensors[i];
            if (cur.DataOffset < prev.DataOffset + prev.ByteLength)
                throw new ModelFileException(path, $"tensors '{prev.Name}' and '{cur.Name}' overlap in the data region.");
        }
    }

    public static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
