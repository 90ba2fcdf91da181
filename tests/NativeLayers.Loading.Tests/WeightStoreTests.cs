using System.Text.Json;

namespace NativeLayers.Loading.Tests;

/// <summary>Sharded folders: the stories260k tensors split over two shards written to a temp folder.</summary>
public sealed unsafe class WeightStoreTests : IDisposable
{
    private const string Shard1 = "model-00001-of-00002.safetensors";
    private const string Shard2 = "model-00002-of-00002.safetensors";
    private readonly TempDir _temp = new();
    private readonly Dictionary<string, byte[]> _original = new();
    private readonly Dictionary<string, string> _weightMap = new();

    public WeightStoreTests()
    {
        using var source = SafetensorsFile.Open(Path.Combine(Shared.Stories, "model.safetensors"));
        var all = source.Tensors.Select(t => new TensorData(t.Name, t.DType, t.Shape, source.Bytes(t).ToArray())).ToList();
        int half = all.Count / 2;
        SafetensorsWriter.Write(_temp.File(Shard1), all.Take(half), source.Metadata);
        SafetensorsWriter.Write(_temp.File(Shard2), all.Skip(half), source.Metadata);
        for (int i = 0; i < all.Count; i++)
        {
            _original[all[i].Name] = all[i].Bytes.ToArray();
            _weightMap[all[i].Name] = i < half ? Shard1 : Shard2;
        }
        WriteIndex(_weightMap);
    }

    public void Dispose() => _temp.Dispose();

    private string IndexPath => _temp.File(WeightStore.IndexFileName);

    private void WriteIndex(object weightMap) => File.WriteAllText(IndexPath,
        JsonSerializer.Serialize(new Dictionary<string, object> { ["metadata"] = new { total_size = 1040128 }, ["weight_map"] = weightMap }));

    private ModelFileException OpenFails(string expectedPath)
    {
        var e = Assert.Throws<ModelFileException>(() => WeightStore.OpenFolder(_temp.Path).Dispose());
        Assert.StartsWith(expectedPath + ": ", e.Message);
        return e;
    }

    [SkippableFact]
    public void OpensShardsAndFindsEveryTensorInItsShard()
    {
        using var store = WeightStore.OpenFolder(_temp.Path);
        Assert.Equal(2, store.Files.Count);
        Assert.Contains(WeightStore.IndexFileName, store.Description);
        Assert.Equal(_original.Keys.Order(), store.Tensors.Select(t => t.Name).Order());
        foreach (var (name, shard) in _weightMap)
        {
            var t = store.Get(name);
            Assert.Equal(shard, Path.GetFileName(t.File.Path));
            Assert.True(t.File.Bytes(t.Info).SequenceEqual(_original[name]));
            Assert.Equal((nint)t.File.Pointer(t.Info), (nint)t.Pointer);
        }
        Assert.True(store.TryGet("model.norm.weight", out _));
        Assert.False(store.Contains("lm_head.weight"));
        Assert.StartsWith(store.Description + ": tensor 'lm_head.weight' is missing", Assert.Throws<ModelFileException>(() => store.Get("lm_head.weight")).Message);
    }

    [SkippableFact]
    public void IndexWinsOverSingleFileAndDisposeReleasesAllShards()
    {
        File.Copy(Path.Combine(Shared.Stories, "model.safetensors"), _temp.File(WeightStore.SingleFileName));
        var store = WeightStore.OpenFolder(_temp.Path);
        Assert.Equal(2, store.Files.Count);
        var refs = store.Tensors.ToList();
        store.Dispose();
        foreach (var r in refs)
            Assert.Throws<ObjectDisposedException>(() => (nint)r.Pointer);
    }

    [SkippableFact]
    public void ModelFolderOpensShardedWeights()
    {
        File.Copy(Path.Combine(Shared.Stories, "config.json"), _temp.File("config.json"));
        using var folder = ModelFolder.Open(_temp.Path);
        Assert.Equal(47, folder.Weights.Tensors.Count());
        Assert.Null(folder.Generation);
        Assert.Equal([2], folder.EosTokenIds);
    }

    [SkippableFact]
    public void MissingShardIsNamed()
    {
        File.Delete(_temp.File(Shard2));
        var e = OpenFails(IndexPath);
        Assert.Contains($"shard '{Shard2}'", e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [SkippableFact]
    public void TensorThatIsNotInItsShardIsNamed()
    {
        _weightMap["model.norm.weight"] = Shard1; // it is in shard 2
        WriteIndex(_weightMap);
        var e = OpenFails(IndexPath);
        Assert.Contains($"tensor 'model.norm.weight' in '{Shard1}', but it is in '{Shard2}'", e.Message);
    }

    [SkippableFact]
    public void TensorInNoShardIsNamed()
    {
        _weightMap["lm_head.weight"] = Shard2;
        WriteIndex(_weightMap);
        Assert.Contains("tensor 'lm_head.weight' in '" + Shard2 + "', but no shard contains it", OpenFails(IndexPath).Message);
    }

    [SkippableFact]
    public void TensorInTwoShardsIsRefused()
    {
        using (var source = SafetensorsFile.Open(_temp.File(Shard2)))
        {
            var copy = source.Tensors.Select(t => new TensorData(t.Name, t.DType, t.Shape, source.Bytes(t).ToArray())).ToList();
            copy.Add(new TensorData("model.embed_tokens.weight", DType.F32, [1], new byte[4]));
            SafetensorsWriter.Write(_temp.File("dup.safetensors"), copy);
        }
        foreach (var name in _weightMap.Where(e => e.Value == Shard2).Select(e => e.Key).ToList())
            _weightMap[name] = "dup.safetensors";
        WriteIndex(_weightMap);
        // Shards open in name order, so the repeat is found in shard 1 and the message names both files.
        var e = OpenFails(_temp.File(Shard1));
        Assert.Contains("tensor 'model.embed_tokens.weight' is also in " + _temp.File("dup.safetensors"), e.Message);
    }

    [SkippableFact]
    public void CorruptShardIsNamed()
    {
        byte[] raw = File.ReadAllBytes(_temp.File(Shard1));
        File.WriteAllBytes(_temp.File(Shard1), raw[..^3]);
        Assert.Contains("past the data region", OpenFails(_temp.File(Shard1)).Message);
    }

    [SkippableTheory]
    [InlineData("{\"weight_map\":", "not valid JSON")]
    [InlineData("[]", "missing the 'weight_map'")]
    [InlineData("{\"metadata\":{}}", "missing the 'weight_map'")]
    [InlineData("{\"weight_map\":[]}", "missing the 'weight_map'")]
    [InlineData("{\"weight_map\":{}}", "'weight_map' is empty")]
    [InlineData("{\"weight_map\":{\"a\":1}}", "entry 'a' is not a file name")]
    [InlineData("{\"weight_map\":{\"a\":\"../model.safetensors\"}}", "not a file in this folder")]
    [InlineData("{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "not a file in this folder")]
    [InlineData("{\"weight_map\":{\"a\":\"..\"}}", "not a file in this folder")]
    [InlineData("{\"weight_map\":{\"a\":\"\"}}", "not a file in this folder")]
    [InlineData("{\"weight_map\":{\"a\":\"x.safetensors\",\"a\":\"x.safetensors\"}}", "tensor 'a' twice")]
    [InlineData("{\"weight_map\":{\"a\":\"\\ud800\"}}", "not valid text")]
    public void BadIndexIsNamed(string index, string expected)
    {
        File.WriteAllText(IndexPath, index);
        Assert.Contains(expected, OpenFails(IndexPath).Message);
    }

    [SkippableFact]
    public void FolderWithoutWeightsIsNamed()
    {
        using var empty = new TempDir();
        var e = Assert.Throws<ModelFileException>(() => WeightStore.OpenFolder(empty.Path));
        Assert.StartsWith(empty.Path + ": no model.safetensors", e.Message);
    }
}
