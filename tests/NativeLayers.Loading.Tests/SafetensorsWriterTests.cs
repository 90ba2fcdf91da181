using System.Runtime.InteropServices;
using System.Text;

namespace NativeLayers.Loading.Tests;

public sealed class SafetensorsWriterTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] RandomBytes(Random rng, long count)
    {
        var bytes = new byte[count];
        rng.NextBytes(bytes);
        return bytes;
    }

    [SkippableTheory]
    [InlineData(DType.F64)]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.I64)]
    [InlineData(DType.I32)]
    [InlineData(DType.I16)]
    [InlineData(DType.I8)]
    [InlineData(DType.U8)]
    [InlineData(DType.BOOL)]
    public void RoundTripsEveryDType(DType dtype)
    {
        var rng = new Random(1000 + (int)dtype);
        long[][] shapes = [[3, 5], [], [0], [2, 0, 7], [1, 1, 1, 9]];
        var written = shapes.Select((shape, i) => new TensorData($"t{i}", dtype, shape,
            RandomBytes(rng, shape.Aggregate(1L, (a, b) => a * b) * dtype.SizeOf()))).ToList();
        string path = _temp.File($"{dtype}.safetensors");
        SafetensorsWriter.Write(path, written);

        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Metadata);
        Assert.Equal(written.Select(t => t.Name), file.Tensors.Select(t => t.Name));
        foreach (var t in written)
        {
            var info = file.Get(t.Name);
            Assert.Equal(dtype, info.DType);
            Assert.Equal(t.Shape, info.Shape);
            Assert.True(t.Bytes.Span.SequenceEqual(file.Bytes(info)));
            if (dtype.IsFloat()) Assert.Equal(info.ElementCount, file.ReadFloat32(t.Name).Length);
            else Assert.Equal(info.ElementCount, file.ReadInt64(t.Name).Length);
        }
    }

    [SkippableFact]
    public void RoundTripsValuesThroughConversions()
    {
        string path = _temp.File("values.safetensors");
        float[] floats = [1.5f, -2.25f, 0f, 65280f]; // exact in F16 and BF16
        SafetensorsWriter.Write(path,
        [
            TensorData.FromFloats("f32", [2, 2], floats),
            TensorData.FromInt64("i64", [3], [long.MinValue, -1, long.MaxValue]),
            new("f16", DType.F16, [4], MemoryMarshal.AsBytes(floats.Select(f => (Half)f).ToArray().AsSpan()).ToArray()),
            new("bf16", DType.BF16, [4], MemoryMarshal.AsBytes(floats.Select(f => (ushort)(BitConverter.SingleToInt32Bits(f) >> 16)).ToArray().AsSpan()).ToArray()),
            new("f64", DType.F64, [4], MemoryMarshal.AsBytes(floats.Select(f => (double)f).ToArray().AsSpan()).ToArray()),
            new("i8", DType.I8, [2], new byte[] { 0x80, 0x7F }),
            new("bool", DType.BOOL, [2], new byte[] { 0, 1 }),
        ]);
        using var file = SafetensorsFile.Open(path);
        foreach (var name in new[] { "f32", "f16", "bf16", "f64" })
            Assert.Equal(floats, file.ReadFloat32(name));
        Assert.Equal([long.MinValue, -1, long.MaxValue], file.ReadInt64("i64"));
        Assert.Equal([-128L, 127L], file.ReadInt64("i8"));
        Assert.Equal([0L, 1L], file.ReadInt64("bool"));
    }

    [SkippableFact]
    public void RoundTripsMetadata()
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["quotes \" and \\ backslash"] = "line\nbreak\ttab \u0001",
            ["unicode ñ 漢字 🙂"] = "<script>&'",
            ["empty"] = "",
        };
        string path = _temp.File("meta.safetensors");
        SafetensorsWriter.Write(path, [TensorData.FromFloats("x", [1], [1f])], metadata);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata.OrderBy(e => e.Key), file.Metadata.OrderBy(e => e.Key));
        string header = Encoding.UTF8.GetString(RawSafetensors.Split(File.ReadAllBytes(path)).Header);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\",", header);
    }

    [SkippableFact]
    public void HeaderIsCompactPaddedWithSpacesAndDataIsAligned()
    {
        for (int nameLength = 1; nameLength <= 24; nameLength++)
        {
            string name = new('n', nameLength);
            string path = _temp.File($"align{nameLength}.safetensors");
            SafetensorsWriter.Write(path, [new TensorData(name, DType.U8, [3], new byte[] { 1, 2, 3 })], new Dictionary<string, string> { ["format"] = "pt" });
            byte[] raw = File.ReadAllBytes(path);
            var (header, data) = RawSafetensors.Split(raw);
            Assert.Equal(0, header.Length % 8);
            Assert.Equal(0, (8 + header.Length) % 8);
            string json = $"{{\"__metadata__\":{{\"format\":\"pt\"}},\"{name}\":{{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}}}";
            Assert.Equal(json.PadRight(header.Length), Encoding.UTF8.GetString(header));
            Assert.True(header.Length - json.Length < 8);
            Assert.Equal([1, 2, 3], data);
        }
    }

    /// <summary>
    /// The fixtures were written by the reference writer (dtype descending, then name); reading one and writing its
    /// tensors and metadata back in data order must give the very same bytes.
    /// </summary>
    [SkippableTheory]
    [InlineData("fixtures/golden/llama/model.safetensors")]
    [InlineData("fixtures/golden/llama/golden.safetensors")]
    [InlineData("fixtures/golden/llama-bf16/model.safetensors")]
    [InlineData("fixtures/golden/llama-f16/model.safetensors")]
    [InlineData("fixtures/golden/gemma/golden_single.safetensors")]
    [InlineData("models/stories260k/model.safetensors")]
    public void RewritingAFixtureReproducesItByteForByte(string relative)
    {
        string source = Shared.Path(relative.Split('/'));
        string copy = _temp.File("copy.safetensors");
        using (var file = SafetensorsFile.Open(source))
        {
            var tensors = file.Tensors.Select(t => new TensorData(t.Name, t.DType, t.Shape, file.Bytes(t).ToArray()));
            SafetensorsWriter.Write(copy, tensors, file.Metadata);
        }
        byte[] expected = File.ReadAllBytes(source);
        byte[] actual = File.ReadAllBytes(copy);
        Assert.Equal(Encoding.UTF8.GetString(RawSafetensors.Split(expected).Header), Encoding.UTF8.GetString(RawSafetensors.Split(actual).Header));
        Assert.True(expected.AsSpan().SequenceEqual(actual));
    }

    public static TheoryData<string, TensorData[]> InvalidTensors => new()
    {
        { "repeated", [new("a", DType.U8, [1], new byte[1]), new("a", DType.U8, [1], new byte[1])] },
        { "reserved", [new("__metadata__", DType.U8, [1], new byte[1])] },
        { "needs 8 bytes", [new("a", DType.F32, [2], new byte[4])] },
        { "negative", [new("a", DType.F32, [-1, -1], new byte[4])] },
        { "too large", [new("a", DType.U8, [1L << 32, 1L << 32], new byte[0])] },
        { "not a dtype", [new("a", (DType)42, [1], new byte[1])] },
    };

    [SkippableTheory]
    [MemberData(nameof(InvalidTensors))]
    public void RefusesToWriteInvalidTensorsAndLeavesNoFile(string expected, TensorData[] tensors)
    {
        string path = _temp.File("bad.safetensors");
        var e = Assert.Throws<NativeLayersException>(() => SafetensorsWriter.Write(path, tensors));
        Assert.Contains(expected, e.Message);
        Assert.Empty(Directory.GetFiles(_temp.Path));
    }

    [SkippableFact]
    public void RefusesNullMetadataValueAndCreatesMissingFolders()
    {
        var tensors = new[] { TensorData.FromFloats("x", [1], [1f]) };
        Assert.Throws<NativeLayersException>(() => SafetensorsWriter.Write(_temp.File("m.safetensors"), tensors, new Dictionary<string, string> { ["k"] = null! }));
        string nested = Path.Combine(_temp.Path, "a", "b", "model.safetensors");
        SafetensorsWriter.Write(nested, tensors);
        using var file = SafetensorsFile.Open(nested);
        Assert.Equal([1f], file.ReadFloat32("x"));
    }
}
