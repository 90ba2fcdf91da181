using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using NativeLayers.Analysis.Steering;

namespace NativeLayers.Serving;

/// <summary>
/// A named steering vector: one vector per layer (from a vector file or a per-layer upload), or one vector for any
/// layer (an upload of plain floats). Checked against the model's width and layers when it is registered.
/// </summary>
public sealed record RegisteredVector(string Name, int Width, IReadOnlyDictionary<int, float[]> PerLayer, float[]? AnyLayer, string Source, DateTimeOffset Created)
{
    public IEnumerable<int> Layers => PerLayer.Keys.Order();

    /// <summary>The vector for <paramref name="layer"/>, or null when this entry has none there.</summary>
    public float[]? For(int layer) => AnyLayer ?? PerLayer.GetValueOrDefault(layer);
}

/// <summary>The server's named steering vectors: added by upload only (never read from the server's own files).</summary>
public sealed partial class VectorRegistry(int width, int layers, int capacity)
{
    private readonly ConcurrentDictionary<string, RegisteredVector> _vectors = new(StringComparer.Ordinal);
    private readonly object _addLock = new();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();

    public IReadOnlyList<RegisteredVector> All => _vectors.Values.OrderBy(v => v.Name, StringComparer.Ordinal).ToList();

    public bool TryGet(string name, out RegisteredVector vector) => _vectors.TryGetValue(name, out vector!);

    public bool Remove(string name) => _vectors.TryRemove(name, out _);

    /// <summary>Registers (or replaces) a vector for any layer.</summary>
    public RegisteredVector Add(string name, float[] vector) =>
        Add(new RegisteredVector(CheckName(name), CheckWidth(vector.Length, "the vector"), new Dictionary<int, float[]>(), vector, "floats", DateTimeOffset.UtcNow));

    /// <summary>Registers (or replaces) per-layer vectors.</summary>
    public RegisteredVector Add(string name, IReadOnlyDictionary<int, float[]> perLayer, string source)
    {
        CheckName(name);
        if (perLayer.Count == 0) throw ApiException.BadRequest("the upload holds no vectors.");
        foreach (var (layer, vector) in perLayer)
        {
            if (layer < 0 || layer >= layers)
                throw ApiException.BadRequest($"the upload has a vector for layer {layer}, but the model has layers 0..{layers - 1}.");
            CheckWidth(vector.Length, $"the vector for layer {layer}");
            if (vector.Any(x => !float.IsFinite(x))) throw ApiException.BadRequest($"the vector for layer {layer} contains NaN or infinity.");
        }
        return Add(new RegisteredVector(name, width, perLayer, null, source, DateTimeOffset.UtcNow));
    }

    public RegisteredVector Add(string name, SteeringVectorSet set, string source)
    {
        CheckWidth(set.Width, "the file's vectors");
        return Add(name, set.Layers.ToDictionary(l => l, l => set[l].ToArray()), source);
    }

    private RegisteredVector Add(RegisteredVector vector)
    {
        lock (_addLock)
        {
            if (!_vectors.ContainsKey(vector.Name) && _vectors.Count >= capacity)
                throw ApiException.BadRequest($"the registry is full ({capacity} vectors); delete one first.");
            _vectors[vector.Name] = vector;
        }
        return vector;
    }

    private static string CheckName(string? name) => name != null && NamePattern().IsMatch(name)
        ? name
        : throw ApiException.BadRequest($"a vector name is 1 to 64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got '{name}'.", "name");

    private int CheckWidth(int actual, string what) => actual == width
        ? actual
        : throw ApiException.BadRequest($"{what} has width {actual}, but the model's width is {width}.");
}
