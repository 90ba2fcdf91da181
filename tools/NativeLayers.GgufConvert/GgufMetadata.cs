namespace NativeLayers.GgufConvert;

/// <summary>One metadata entry: a key, its value type, and the value (for arrays, the element type and elements).</summary>
public sealed record GgufEntry(string Key, GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8);

/// <summary>An ordered list of metadata entries with typed adders; keys must be unique.</summary>
public sealed class GgufMetadata
{
    private readonly List<GgufEntry> _entries = [];
    private readonly HashSet<string> _keys = [];

    public IReadOnlyList<GgufEntry> Entries => _entries;

    public GgufMetadata String(string key, string value) => Add(new(key, GgufValueType.String, value));
    public GgufMetadata UInt32(string key, uint value) => Add(new(key, GgufValueType.UInt32, value));
    public GgufMetadata Float32(string key, float value) => Add(new(key, GgufValueType.Float32, value));
    public GgufMetadata Bool(string key, bool value) => Add(new(key, GgufValueType.Bool, value));
    public GgufMetadata Strings(string key, IReadOnlyList<string> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.String));
    public GgufMetadata Floats(string key, IReadOnlyList<float> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.Float32));
    public GgufMetadata Ints(string key, IReadOnlyList<int> values) => Add(new(key, GgufValueType.Array, values, GgufValueType.Int32));

    private GgufMetadata Add(GgufEntry entry)
    {
        if (!_keys.Add(entry.Key)) throw new ArgumentException($"GGUF metadata key '{entry.Key}' is set twice.");
        _entries.Add(entry);
        return this;
    }
}
