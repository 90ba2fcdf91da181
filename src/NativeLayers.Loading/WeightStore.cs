using System.Text.Json;

namespace NativeLayers.Loading;

/// <summary>A tensor found in a <see cref="WeightStore"/>: its header entry and the file that holds it.</summary>
public readonly record struct TensorRef(SafetensorsFile File, TensorInfo Info)
{
    public string Name => Info.Name;
    public DType DType => Info.DType;
    public long[] Shape => Info.Shape;
    public unsafe byte* Pointer => File.Pointer(Info);
}

/// <summary>
/// The weights of a model folder: one <c>model.safetensors</c>, or the shards listed by
/// <c>model.safetensors.index.json</c>. Lookups go straight to the shard that holds the tensor.
/// </summary>
public sealed class WeightStore : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, TensorRef> _tensors = new();

    public string Description { get; }
    public IReadOnlyList<SafetensorsFile> Files => _files;
    public IEnumerable<TensorRef> Tensors => _tensors.Values;

    private WeightStore(List<SafetensorsFile> files, string description)
    {
        _files = files;
        Description = description;
        foreach (var file in files)
            foreach (var t in file.Tensors)
                if (!_tensors.TryAdd(t.Name, new TensorRef(file, t)))
                    throw new ModelFileException(file.Path, $"tensor '{t.Name}' is also in {_tensors[t.Name].File.Path}; shards must not repeat tensors.");
    }

    public static WeightStore OpenFile(string path)
    {
        var file = SafetensorsFile.Open(path);
        return new WeightStore([file], path);
    }

    public static WeightStore OpenFolder(string directory)
    {
        string index = System.IO.Path.Combine(directory, IndexFileName);
        string single = System.IO.Path.Combine(directory, SingleFileName);
        if (File.Exists(index)) return OpenSharded(directory, index);
        if (File.Exists(single)) return OpenFile(single);
        throw new ModelFileException(directory, $"no {SingleFileName} or {IndexFileName} in this folder.");
    }

    private static WeightStore OpenSharded(string directory, string indexPath)
    {
        var shardNames = ReadIndex(indexPath, out var weightMap);
        var files = new List<SafetensorsFile>();
        try
        {
            foreach (var shard in shardNames)
            {
                string shardPath = System.IO.Path.Combine(directory, shard);
                if (!File.Exists(shardPath))
                {
                    string tensor = weightMap.First(e => e.Value == shard).Key;
                    throw new ModelFileException(indexPath, $"shard '{shard}' (which weight_map says holds tensor '{tensor}') does not exist.");
                }
                files.Add(SafetensorsFile.Open(shardPath));
            }
            var store = new WeightStore(files, $"{indexPath} ({files.Count} shards)");
            foreach (var (tensor, shard) in weightMap)
            {
                if (!store._tensors.TryGetValue(tensor, out var found))
                    throw new ModelFileException(indexPath, $"weight_map lists tensor '{tensor}' in '{shard}', but no shard contains it.");
                if (System.IO.Path.GetFileName(found.File.Path) != shard)
                    throw new ModelFileException(indexPath, $"weight_map puts tensor '{tensor}' in '{shard}', but it is in '{System.IO.Path.GetFileName(found.File.Path)}'.");
            }
            return store;
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>The shard files an index lists, each once, checked as <see cref="OpenFolder"/> checks them.</summary>
    public static List<string> ShardNames(string indexPath) => ReadIndex(indexPath, out _);

    private static List<string> ReadIndex(string indexPath, out Dictionary<string, string> weightMap)
    {
        weightMap = new Dictionary<string, string>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new ModelFileException(indexPath, "missing the 'weight_map' object.");
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new ModelFileException(indexPath, $"weight_map entry '{entry.Name}' is not a file name.");
                string shard = entry.Value.GetString()!;
                if (shard.Length == 0 || shard is "." or ".." || System.IO.Path.GetFileName(shard) != shard || shard.Contains('\\'))
                    throw new ModelFileException(indexPath, $"weight_map entry '{entry.Name}' names '{shard}', which is not a file in this folder.");
                if (!weightMap.TryAdd(entry.Name, shard))
                    throw new ModelFileException(indexPath, $"weight_map lists tensor '{entry.Name}' twice.");
            }
        }
        catch (JsonException e)
        {
            throw new ModelFileException(indexPath, $"not valid JSON ({e.Message}).");
        }
        catch (InvalidOperationException e) // an escaped lone surrogate in a string
        {
            throw new ModelFileException(indexPath, $"holds a string that is not valid text ({e.Message}).");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException(indexPath, $"cannot read: {e.Message}", e);
        }
        if (weightMap.Count == 0)
            throw new ModelFileException(indexPath, "'weight_map' is empty; the model has no weights.");
        return weightMap.Values.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public bool TryGet(string name, out TensorRef tensor) => _tensors.TryGetValue(name, out tensor);

    public TensorRef Get(string name) => _tensors.TryGetValue(name, out var t)
        ? t
        : throw new ModelFileException(Description, $"tensor '{name}' is missing.");

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
