using NativeLayers.Analysis.Vectors;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Steering;

/// <summary>
/// Per-layer steering vectors of one width, indexed by block (§0.1): the vector for layer k is added to the output
/// of block k, i.e. to R[k+1]. Vectors are stored as float32, the precision of both file formats.
/// </summary>
public sealed class SteeringVectorSet
{
    private readonly SortedDictionary<int, float[]> _vectors = new();

    public SteeringVectorSet(int width, SteeringVectorMetadata? metadata = null)
    {
        if (width < 1) throw new NativeLayersException($"a steering vector set needs a positive width, got {width}.");
        Width = width;
        Metadata = metadata ?? new SteeringVectorMetadata();
    }

    /// <summary>The residual width D shared by every vector.</summary>
    public int Width { get; }
    public SteeringVectorMetadata Metadata { get; set; }
    public int Count => _vectors.Count;
    /// <summary>Block indices that carry a vector, ascending.</summary>
    public IReadOnlyList<int> Layers => _vectors.Keys.ToArray();

    public bool Contains(int layer) => _vectors.ContainsKey(layer);

    /// <summary>The vector for block <paramref name="layer"/> (not copied; do not modify).</summary>
    public ReadOnlySpan<float> this[int layer] => _vectors.TryGetValue(layer, out var v)
        ? v
        : throw new NativeLayersException($"the steering vector set has no vector for layer {layer} (it has {Describe()}).");

    public bool TryGet(int layer, out ReadOnlySpan<float> vector)
    {
        bool found = _vectors.TryGetValue(layer, out var v);
        vector = found ? v : default;
        return found;
    }

    /// <summary>Sets (replaces) the vector for block <paramref name="layer"/>; the values are copied.</summary>
    public void Set(int layer, ReadOnlySpan<float> vector)
    {
        CheckLayerAndWidth(layer, vector.Length);
        foreach (float x in vector)
            if (!float.IsFinite(x)) throw new NativeLayersException($"the vector for layer {layer} contains NaN or infinity.");
        _vectors[layer] = vector.ToArray();
    }

    /// <summary>Sets the vector for block <paramref name="layer"/>, rounding float64 values to float32.</summary>
    public void Set(int layer, ReadOnlySpan<double> vector)
    {
        CheckLayerAndWidth(layer, vector.Length);
        var f = new float[vector.Length];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = (float)vector[i];
            if (!float.IsFinite(f[i]))
                throw new NativeLayersException($"the vector for layer {layer} has a value ({vector[i]}) that is not a finite float32.");
        }
        _vectors[layer] = f;
    }

    public void Set(int layer, ExtractedVector vector)
    {
        ArgumentNullException.ThrowIfNull(vector);
        Set(layer, (ReadOnlySpan<double>)vector.Values);
    }

    public bool Remove(int layer) => _vectors.Remove(layer);

    /// <summary>
    /// Loads a set from a GGUF control vector (detected by its magic) or from a NativeLayers safetensors vector file.
    /// </summary>
    public static SteeringVectorSet Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, Directory.Exists(path) ? "is a folder, not a vector file." : "file not found.");
        Span<byte> magic = stackalloc byte[4];
        int read;
        try
        {
            using var stream = File.OpenRead(path);
            read = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException(path, $"cannot read: {e.Message}", e);
        }
        return read == 4 && magic.SequenceEqual("GGUF"u8) ? GgufControlVectorFile.Read(path) : SafetensorsSteeringFile.Read(path);
    }

    private void CheckLayerAndWidth(int layer, int width)
    {
        if (layer < 0) throw new NativeLayersException($"steering layers are block indices ≥ 0, got {layer}.");
        if (width != Width)
            throw new NativeLayersException($"the vector for layer {layer} has width {width}, but this set's width is {Width}.");
    }

    private string Describe() => _vectors.Count == 0 ? "no layers" : "layers " + string.Join(", ", _vectors.Keys);
}
