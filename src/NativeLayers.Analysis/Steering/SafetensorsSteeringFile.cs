using System.Globalization;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Steering;

/// <summary>
/// NativeLayers' own vector file: safetensors with one F32 [D] tensor <c>layer.{k}</c> per block k and the metadata as
/// <c>__metadata__</c> strings (<c>format</c>, <c>width</c>, <c>model_name</c>, <c>model_type</c>, <c>method</c>,
/// <c>position</c>, <c>hook_point</c>, plus any extra keys).
/// </summary>
public static class SafetensorsSteeringFile
{
    public const string FormatName = "nativelayers.steering_vectors";
    public const string TensorPrefix = "layer.";

    private const string FormatKey = "format", WidthKey = "width", ModelNameKey = "model_name", ModelTypeKey = "model_type",
        MethodKey = "method", PositionKey = "position", HookPointKey = "hook_point";
    private static readonly HashSet<string> Reserved = [FormatKey, WidthKey, ModelNameKey, ModelTypeKey, MethodKey, PositionKey, HookPointKey];

    public static void Write(string path, SteeringVectorSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var m = set.Metadata;
        var metadata = new Dictionary<string, string>
        {
            [FormatKey] = FormatName,
            [WidthKey] = set.Width.ToString(CultureInfo.InvariantCulture),
        };
        void Add(string key, string? value) { if (value != null) metadata[key] = value; }
        Add(ModelNameKey, m.ModelName);
        Add(ModelTypeKey, m.ModelType);
        Add(MethodKey, m.Method);
        Add(PositionKey, m.Position);
        Add(HookPointKey, m.HookPoint);
        foreach (var (k, v) in m.Extra)
        {
            if (Reserved.Contains(k))
                throw new NativeLayersException($"extra metadata key '{k}' is reserved by the steering vector file format.");
            metadata[k] = v;
        }
        var tensors = set.Layers.Select(k => TensorData.FromFloats(
            TensorPrefix + k.ToString(CultureInfo.InvariantCulture), [set.Width], set[k].ToArray()));
        SafetensorsWriter.Write(path, tensors, metadata);
    }

    public static SteeringVectorSet Read(string path)
    {
        using var file = SafetensorsFile.Open(path);
        var meta = file.Metadata;
        if (meta.TryGetValue(FormatKey, out var format) && format != FormatName)
            throw new ModelFileException(path, $"is a '{format}' file, not a steering vector file ('{FormatName}').");

        int? width = null;
        if (meta.TryGetValue(WidthKey, out var widthText))
        {
            if (!int.TryParse(widthText, NumberStyles.None, CultureInfo.InvariantCulture, out int w) || w < 1)
                throw new ModelFileException(path, $"metadata width '{widthText}' is not a positive integer.");
            width = w;
        }

        var vectors = new SortedDictionary<int, float[]>();
        string? firstName = null;
        foreach (var t in file.Tensors)
        {
            int layer = ParseLayer(path, t.Name);
            if (t.Rank != 1)
                throw new ModelFileException(path, $"tensor '{t.Name}' has shape {t.ShapeText}; a steering vector is 1-D [D].");
            if (!t.DType.IsFloat())
                throw new ModelFileException(path, $"tensor '{t.Name}' is {t.DType}; a steering vector is F32.");
            int d = checked((int)t.Shape[0]);
            if (width is int known && d != known)
                throw new ModelFileException(path, firstName == null
                    ? $"tensor '{t.Name}' has width {d} but the metadata says {known}."
                    : $"tensor '{t.Name}' has width {d} but '{firstName}' has width {known}: all layers must have the same width.");
            width = d;
            firstName ??= t.Name;
            if (!vectors.TryAdd(layer, file.ReadFloat32(t.Name)))
                throw new ModelFileException(path, $"holds two tensors for layer {layer}.");
        }
        if (width is null)
            throw new ModelFileException(path, "holds no layer tensors and no width metadata.");

        var extra = meta.Where(kv => !Reserved.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var set = new SteeringVectorSet(width.Value, new SteeringVectorMetadata
        {
            ModelName = meta.GetValueOrDefault(ModelNameKey),
            ModelType = meta.GetValueOrDefault(ModelTypeKey),
            Method = meta.GetValueOrDefault(MethodKey),
            Position = meta.GetValueOrDefault(PositionKey),
            HookPoint = meta.GetValueOrDefault(HookPointKey),
            Extra = extra,
        });
        foreach (var (layer, v) in vectors)
        {
            try { set.Set(layer, (ReadOnlySpan<float>)v); }
            catch (NativeLayersException e) { throw new ModelFileException(path, e.Message, e); }
        }
        return set;
    }

    private static int ParseLayer(string path, string name)
    {
        if (!name.StartsWith(TensorPrefix, StringComparison.Ordinal) || !LayerIndex.TryParse(name.AsSpan(TensorPrefix.Length), out int layer))
            throw new ModelFileException(path, $"unexpected tensor '{name}': a steering vector file holds only '{TensorPrefix}<block>' tensors.");
        return layer;
    }
}

/// <summary>Parses the block index of a tensor name suffix: 1–9 ASCII digits.</summary>
internal static class LayerIndex
{
    public static bool TryParse(ReadOnlySpan<char> text, out int layer)
    {
        layer = 0;
        if (text.IsEmpty || text.Length > 9) return false;
        foreach (char c in text)
        {
            if (c < '0' || c > '9') return false;
            layer = layer * 10 + (c - '0');
        }
        return true;
    }
}
