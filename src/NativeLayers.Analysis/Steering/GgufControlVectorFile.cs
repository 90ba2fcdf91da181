using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Steering;

/// <summary>
/// llama.cpp's GGUF control-vector format (§13), as repeng's <c>export_gguf</c> writes it: GGUF v3, little-endian,
/// <c>general.architecture = "controlvector"</c>, <c>controlvector.model_hint</c> (string),
/// <c>controlvector.layer_count</c> (u32: the number of direction tensors, as repeng writes it), and one F32 tensor
/// <c>direction.{k}</c> of shape [n_embd] per block k. Metadata beyond the model hint travels in
/// <c>nativelayers.*</c> string keys, which llama.cpp ignores. A missing model type is written as an empty hint and
/// an empty hint reads back as null. Data is aligned to <c>general.alignment</c> (32 when
/// absent) and every tensor is padded to it.
/// </summary>
public static class GgufControlVectorFile
{
    public const uint Version = 3;
    public const int DefaultAlignment = 32;
    public const string Architecture = "controlvector";
    public const string ArchitectureKey = "general.architecture";
    public const string AlignmentKey = "general.alignment";
    public const string ModelHintKey = "controlvector.model_hint";
    public const string LayerCountKey = "controlvector.layer_count";
    public const string TensorPrefix = "direction.";
    public const string ModelNameKey = "nativelayers.model_name";
    public const string MethodKey = "nativelayers.method";
    public const string PositionKey = "nativelayers.position";
    public const string HookPointKey = "nativelayers.hook_point";
    public const string ExtraPrefix = "nativelayers.extra.";

    /// <summary>Files larger than this are refused before reading (a control vector is a few MB).</summary>
    public const long MaxFileBytes = 1L << 30;
    private const uint GgmlTypeF32 = 0;
    private const int MaxDims = 4;

    /// <summary>The warning for a set with a vector on block 0, which llama.cpp refuses.</summary>
    public const string LayerZeroWarning =
        "the set has a vector for layer 0 (direction.0); it is written, but llama.cpp rejects control vectors with direction.0.";

    /// <summary>Writes the set atomically and returns warnings (direction.0, see <see cref="LayerZeroWarning"/>).</summary>
    public static IReadOnlyList<string> Write(string path, SteeringVectorSet set)
    {
        var bytes = ToBytes(set, out var warnings);
        StagedFiles.Write(path, stream => stream.Write(bytes));
        return warnings;
    }

    /// <summary>Serialises the set to GGUF bytes.</summary>
    public static byte[] ToBytes(SteeringVectorSet set, out IReadOnlyList<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (set.Count == 0) throw new NativeLayersException("cannot write a GGUF control vector with no layers.");
        var found = new List<string>();
        if (set.Contains(0)) found.Add(LayerZeroWarning);
        warnings = found;

        var m = set.Metadata;
        var kvs = new List<(string Key, GgufValueType Type, object Value)>
        {
            (ArchitectureKey, GgufValueType.String, Architecture),
            (ModelHintKey, GgufValueType.String, m.ModelType ?? ""),
            (LayerCountKey, GgufValueType.UInt32, (uint)set.Count),
        };
        void Add(string key, string? value) { if (value != null) kvs.Add((key, GgufValueType.String, value)); }
        Add(ModelNameKey, m.ModelName);
        Add(MethodKey, m.Method);
        Add(PositionKey, m.Position);
        Add(HookPointKey, m.HookPoint);
        foreach (var (k, v) in m.Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal)) Add(ExtraPrefix + k, v);

        var w = new GgufByteWriter();
        w.Bytes("GGUF"u8);
        w.U32(Version);
        w.U64((ulong)set.Count);
        w.U64((ulong)kvs.Count);
        foreach (var (key, type, value) in kvs)
        {
            w.String(key);
            w.U32((uint)type);
            if (type == GgufValueType.String) w.String((string)value);
            else w.U32((uint)value);
        }
        long tensorBytes = (long)set.Width * sizeof(float);
        long padded = Align(tensorBytes, DefaultAlignment);
        long offset = 0;
        foreach (int layer in set.Layers)
        {
            w.String(TensorPrefix + layer.ToString(CultureInfo.InvariantCulture));
            w.U32(1);
            w.U64((ulong)set.Width);
            w.U32(GgmlTypeF32);
            w.U64((ulong)offset);
            offset += padded;
        }
        w.PadTo(DefaultAlignment);
        foreach (int layer in set.Layers)
        {
            foreach (float x in set[layer]) w.U32(BitConverter.SingleToUInt32Bits(x));
            w.PadTo(DefaultAlignment);
        }
        return w.ToArray();
    }

    /// <summary>Reads and strictly validates a GGUF control vector file.</summary>
    public static SteeringVectorSet Read(string path)
    {
        if (Directory.Exists(path)) throw new ModelFileException(path, "is a folder, not a GGUF file.");
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found.");
        byte[] bytes;
        try
        {
            long length = new FileInfo(path).Length;
            if (length > MaxFileBytes)
                throw new ModelFileException(path, $"is {length} bytes, too large for a control vector (limit {MaxFileBytes}).");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException(path, $"cannot read: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses GGUF bytes; <paramref name="sourceName"/> names the source in error messages.</summary>
    public static SteeringVectorSet Parse(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var c = new GgufCursor(sourceName, bytes);
        if (bytes.Length < 4 || !bytes.AsSpan(0, 4).SequenceEqual("GGUF"u8))
            throw c.Fail(bytes.Length < 4 ? "is too short to be a GGUF file." : "is not a GGUF file (bad magic; expected \"GGUF\").");
        c.Bytes(4, "the magic");
        uint version = c.U32("the version");
        if (version is not (2 or 3))
            throw c.Fail(BinaryPrimitives.ReverseEndianness(version) is 2 or 3
                ? "is a big-endian GGUF file; only little-endian files are supported."
                : $"has GGUF version {version}; only versions 2 and 3 are supported.");
        ulong tensorCount = c.U64("the tensor count");
        ulong kvCount = c.U64("the key/value count");
        // Smallest key/value: 8-byte key length + 1-byte key + 4-byte type + 1-byte value.
        int kvs = c.Count(kvCount, 14, "key/value pairs");

        string? architecture = null, modelHint = null, modelName = null, method = null, position = null, hookPoint = null;
        int alignment = DefaultAlignment;
        var extra = new Dictionary<string, string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < kvs; i++)
        {
            string key = c.String($"key {i}");
            if (key.Length == 0) throw c.Fail($"key {i} is empty.");
            if (!seen.Add(key)) throw c.Fail($"repeats the key '{key}'.");
            var type = c.ValueType($"the value type of '{key}'");
            string what = $"the value of '{key}'";
            switch (key)
            {
                case ArchitectureKey: architecture = RequireString(c, key, type); break;
                case ModelHintKey: modelHint = RequireString(c, key, type); break;
                case ModelNameKey: modelName = RequireString(c, key, type); break;
                case MethodKey: method = RequireString(c, key, type); break;
                case PositionKey: position = RequireString(c, key, type); break;
                case HookPointKey: hookPoint = RequireString(c, key, type); break;
                case LayerCountKey:
                    if (!GgufTypes.IsInteger(type)) throw c.Fail($"'{key}' has type {type}, expected an integer (uint32).");
                    if (c.Integer(type, what) < 0) throw c.Fail($"'{key}' is negative.");
                    break;
                case AlignmentKey:
                    if (!GgufTypes.IsInteger(type)) throw c.Fail($"'{key}' has type {type}, expected uint32.");
                    long a = c.Integer(type, what);
                    if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0)
                        throw c.Fail($"'{key}' is {a}; the alignment must be a power of two (at most 2^20).");
                    alignment = (int)a;
                    break;
                default:
                    if (key.StartsWith(ExtraPrefix, StringComparison.Ordinal) && type == GgufValueType.String)
                        extra[key[ExtraPrefix.Length..]] = c.String(what);
                    else
                        c.Skip(type, what);
                    break;
            }
        }
        if (architecture is null) throw c.Fail($"has no '{ArchitectureKey}'; a control vector has \"{Architecture}\".");
        if (architecture != Architecture)
            throw c.Fail($"has architecture '{architecture}', not \"{Architecture}\": it is not a control vector file.");

        // Smallest tensor info: 8 + 1 name bytes, n_dims, one dim, type, offset.
        int tensors = c.Count(tensorCount, 8 + 1 + 4 + 8 + 4 + 8, "tensors");
        if (tensors == 0) throw c.Fail("holds no direction tensors.");
        var infos = new List<(string Name, int Layer, int Width, ulong Offset)>(tensors);
        var layers = new HashSet<int>();
        for (int i = 0; i < tensors; i++)
        {
            string name = c.String($"the name of tensor {i}");
            if (!name.StartsWith(TensorPrefix, StringComparison.Ordinal) || !LayerIndex.TryParse(name.AsSpan(TensorPrefix.Length), out int layer))
                throw c.Fail($"has an unexpected tensor '{name}': a control vector holds only '{TensorPrefix}<block>' tensors.");
            if (!layers.Add(layer)) throw c.Fail($"holds two tensors for layer {layer}.");
            uint nDims = c.U32($"the dimension count of '{name}'");
            if (nDims is 0 or > MaxDims) throw c.Fail($"tensor '{name}' has {nDims} dimensions; expected 1 (at most {MaxDims} in GGUF).");
            var dims = new ulong[nDims];
            for (int k = 0; k < nDims; k++) dims[k] = c.U64($"dimension {k} of '{name}'");
            for (int k = 1; k < nDims; k++)
                if (dims[k] != 1)
                    throw c.Fail($"tensor '{name}' has shape [{string.Join(", ", dims)}] (ggml order); a direction is 1-D [n_embd].");
            if (dims[0] is 0 or > int.MaxValue / 4)
                throw c.Fail($"tensor '{name}' has width {dims[0]}, which is not a usable embedding width.");
            uint ggmlType = c.U32($"the type of '{name}'");
            if (ggmlType != GgmlTypeF32)
                throw c.Fail($"tensor '{name}' is {GgufTypes.GgmlTypeName(ggmlType)}; control vector directions must be F32.");
            ulong offset = c.U64($"the data offset of '{name}'");
            infos.Add((name, layer, (int)dims[0], offset));
        }
        int width = infos[0].Width;
        foreach (var t in infos)
            if (t.Width != width)
                throw c.Fail($"tensor '{t.Name}' has width {t.Width} but '{infos[0].Name}' has width {width}: all layers must have the same width.");

        c.AlignTo(alignment, "the tensor data");
        long dataStart = c.Position, dataLength = bytes.Length - dataStart;
        long tensorBytes = (long)width * sizeof(float);
        var regions = new List<(ulong Start, string Name)>();
        foreach (var t in infos)
        {
            if (t.Offset % (ulong)alignment != 0)
                throw c.Fail($"tensor '{t.Name}' starts at data offset {t.Offset}, which is not a multiple of the alignment {alignment}.");
            if (t.Offset > (ulong)dataLength || (ulong)dataLength - t.Offset < (ulong)tensorBytes)
                throw c.Fail($"is truncated: tensor '{t.Name}' needs bytes [{t.Offset}, {t.Offset + (ulong)tensorBytes}) of a {dataLength}-byte data section.");
            regions.Add((t.Offset, t.Name));
        }
        regions.Sort((x, y) => x.Start.CompareTo(y.Start));
        for (int i = 1; i < regions.Count; i++)
            if (regions[i].Start - regions[i - 1].Start < (ulong)tensorBytes)
                throw c.Fail($"tensors '{regions[i - 1].Name}' and '{regions[i].Name}' overlap in the data section.");

        var set = new SteeringVectorSet(width, new SteeringVectorMetadata
        {
            ModelType = string.IsNullOrEmpty(modelHint) ? null : modelHint, ModelName = modelName, Method = method, Position = position, HookPoint = hookPoint, Extra = extra,
        });
        var values = new float[width];
        foreach (var t in infos.OrderBy(t => t.Layer))
        {
            var data = bytes.AsSpan((int)(dataStart + (long)t.Offset), (int)tensorBytes);
            for (int k = 0; k < width; k++) values[k] = BinaryPrimitives.ReadSingleLittleEndian(data[(4 * k)..]);
            try { set.Set(t.Layer, (ReadOnlySpan<float>)values); }
            catch (NativeLayersException e) { throw c.Fail($"tensor '{t.Name}': {e.Message}"); }
        }
        return set;
    }

    private static string RequireString(GgufCursor c, string key, GgufValueType type)
    {
        if (type != GgufValueType.String) throw c.Fail($"'{key}' has type {type}, expected a string.");
        return c.String($"the value of '{key}'");
    }

    private static long Align(long x, int alignment) => (x + alignment - 1) / alignment * alignment;

    /// <summary>Little-endian GGUF serialisation into memory.</summary>
    private sealed class GgufByteWriter
    {
        private readonly MemoryStream _s = new();

        public void Bytes(ReadOnlySpan<byte> b) => _s.Write(b);

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            _s.Write(b);
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            _s.Write(b);
        }

        public void String(string text)
        {
            var utf8 = Encoding.UTF8.GetBytes(text);
            U64((ulong)utf8.Length);
            _s.Write(utf8);
        }

        public void PadTo(int alignment)
        {
            while (_s.Length % alignment != 0) _s.WriteByte(0);
        }

        public byte[] ToArray() => _s.ToArray();
    }
}
