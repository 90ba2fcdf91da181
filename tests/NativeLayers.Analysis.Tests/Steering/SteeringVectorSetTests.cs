using NativeLayers.Analysis.Steering;
using NativeLayers.Analysis.Vectors;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests.Steering;

public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nl-analysis-" + Guid.NewGuid().ToString("N"));
    public TempDir() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

public class SteeringVectorSetTests
{
    internal static SteeringVectorSet Sample(int width = 5, params int[] layers)
    {
        var set = new SteeringVectorSet(width, new SteeringVectorMetadata
        {
            ModelName = "mistralai/Mistral-7B-Instruct-v0.1",
            ModelType = "mistral",
            Method = nameof(SteeringMethod.PcaDiffCentered),
            Position = "Last",
            HookPoint = SteeringVectorMetadata.ResidPost,
            Extra = new Dictionary<string, string> { ["dataset"] = "honesty — “quoted” ✓", ["seed"] = "7" },
        });
        foreach (int k in layers.Length == 0 ? [3, 1, 10] : layers)
        {
            var v = new float[width];
            for (int i = 0; i < width; i++) v[i] = (float)Math.Sin(k * 10 + i) * (i % 2 == 0 ? 1e-3f : 123.5f);
            set.Set(k, v);
        }
        return set;
    }

    internal static void AssertSameSet(SteeringVectorSet expected, SteeringVectorSet actual)
    {
        Assert.Equal(expected.Width, actual.Width);
        Assert.Equal(expected.Layers, actual.Layers);
        foreach (int k in expected.Layers) Assert.True(expected[k].SequenceEqual(actual[k]), $"layer {k} differs");
        Assert.Equal(expected.Metadata, actual.Metadata);
    }

    [Fact]
    public void SetValidatesWidthLayerAndValues()
    {
        var set = new SteeringVectorSet(3);
        set.Set(2, new float[] { 1, 2, 3 });
        set.Set(0, new double[] { 1, 2, 3 });
        Assert.Equal(new[] { 0, 2 }, set.Layers);
        Assert.Throws<NativeLayersException>(() => set.Set(1, new float[] { 1, 2 }));
        Assert.Throws<NativeLayersException>(() => set.Set(-1, new float[] { 1, 2, 3 }));
        Assert.Throws<NativeLayersException>(() => set.Set(1, new float[] { 1, float.NaN, 3 }));
        Assert.Throws<NativeLayersException>(() => set.Set(1, new double[] { 1, 1e300, 3 }));
        Assert.Throws<NativeLayersException>(() => new SteeringVectorSet(0));
        Assert.Throws<NativeLayersException>(() => set[5].ToArray());
        Assert.True(set.Remove(2));
        Assert.Equal(1, set.Count);
    }

    [Fact]
    public void SetAcceptsExtractedVectors()
    {
        var v = SteeringExtractor.Extract(SteeringMethod.MeanDiff,
            NativeLayers.Analysis.Linalg.Matrix.FromRows([2, 1, 0], [3, 1, 1]), NativeLayers.Analysis.Linalg.Matrix.FromRows([1, 1, 0], [1, 0, 1]));
        var set = new SteeringVectorSet(3);
        set.Set(4, v);
        Assert.Equal(new float[] { 1.5f, 0.5f, 0 }, set[4].ToArray());
    }

    [Fact]
    public void SafetensorsRoundTrip()
    {
        using var dir = new TempDir();
        var set = Sample();
        string path = dir.File("v.safetensors");
        SafetensorsSteeringFile.Write(path, set);
        AssertSameSet(set, SafetensorsSteeringFile.Read(path));
        AssertSameSet(set, SteeringVectorSet.Load(path));

        using var raw = SafetensorsFile.Open(path);
        Assert.Equal(new[] { "layer.1", "layer.3", "layer.10" }, raw.Tensors.Select(t => t.Name));
        Assert.All(raw.Tensors, t => { Assert.Equal(DType.F32, t.DType); Assert.Equal(new long[] { 5 }, t.Shape); });
        Assert.Equal("mistral", raw.Metadata["model_type"]);
        Assert.Equal("PcaDiffCentered", raw.Metadata["method"]);
        Assert.Equal("resid_post", raw.Metadata["hook_point"]);
    }

    [Fact]
    public void SafetensorsEmptySetKeepsWidth()
    {
        using var dir = new TempDir();
        var set = new SteeringVectorSet(8);
        SafetensorsSteeringFile.Write(dir.File("e.safetensors"), set);
        var back = SafetensorsSteeringFile.Read(dir.File("e.safetensors"));
        Assert.Equal(8, back.Width);
        Assert.Equal(0, back.Count);
    }

    [Fact]
    public void SafetensorsRejectsBadFiles()
    {
        using var dir = new TempDir();
        void Expect(string name, IEnumerable<TensorData> tensors, Dictionary<string, string>? meta, string fragment)
        {
            string path = dir.File(name);
            SafetensorsWriter.Write(path, tensors, meta);
            var e = Assert.Throws<ModelFileException>(() => SafetensorsSteeringFile.Read(path));
            Assert.Equal(path, e.FilePath);
            Assert.Contains(fragment, e.Message);
        }
        Expect("width.safetensors", [TensorData.FromFloats("layer.1", [3], [1, 2, 3]), TensorData.FromFloats("layer.2", [4], [1, 2, 3, 4])],
            null, "same width");
        Expect("name.safetensors", [TensorData.FromFloats("layer.1", [2], [1, 2]), TensorData.FromFloats("bias", [2], [1, 2])], null, "unexpected tensor 'bias'");
        Expect("neg.safetensors", [TensorData.FromFloats("layer.-1", [2], [1, 2])], null, "unexpected tensor");
        Expect("rank.safetensors", [TensorData.FromFloats("layer.1", [1, 2], [1, 2])], null, "1-D");
        Expect("dup.safetensors", [TensorData.FromFloats("layer.1", [2], [1, 2]), TensorData.FromFloats("layer.01", [2], [1, 2])], null, "two tensors for layer 1");
        Expect("int.safetensors", [TensorData.FromInt64("layer.1", [2], [1, 2])], null, "F32");
        Expect("nan.safetensors", [TensorData.FromFloats("layer.1", [2], [1, float.NaN])], null, "NaN");
        Expect("meta.safetensors", [TensorData.FromFloats("layer.1", [2], [1, 2])], new() { ["width"] = "3" }, "metadata says 3");
        Expect("fmt.safetensors", [TensorData.FromFloats("layer.1", [2], [1, 2])], new() { ["format"] = "pt" }, "not a steering vector file");
        Expect("none.safetensors", [], new() { ["model_type"] = "x" }, "no layer tensors");
        Assert.Throws<ModelFileException>(() => SafetensorsSteeringFile.Read(dir.File("missing.safetensors")));
    }

    [Fact]
    public void SafetensorsWriterRejectsReservedExtraKeys()
    {
        using var dir = new TempDir();
        var set = new SteeringVectorSet(2, new SteeringVectorMetadata { Extra = new Dictionary<string, string> { ["width"] = "9" } });
        Assert.Throws<NativeLayersException>(() => SafetensorsSteeringFile.Write(dir.File("x.safetensors"), set));
    }
}
