using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace NativeLayers.Loading.Tests;

public sealed unsafe class SafetensorsFileTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private string WriteRaw(byte[] bytes, string name = "t.safetensors")
    {
        string path = _temp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static ModelFileException OpenFails(string path)
    {
        var e = Assert.Throws<ModelFileException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Equal(path, e.FilePath);
        return e;
    }

    [SkippableFact]
    public void OpensStories260kWithAllTensorsInDataOrder()
    {
        string path = Shared.Path("models", "stories260k", "model.safetensors");
        byte[] raw = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(raw);
        using var file = SafetensorsFile.Open(path);

        Assert.Equal(47, file.Tensors.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(raw.Length - 8 - headerLength, file.DataLength);
        var embed = file.Get("model.embed_tokens.weight");
        Assert.Equal(DType.F32, embed.DType);
        Assert.Equal([512L, 64L], embed.Shape);
        Assert.Equal(512 * 64, embed.ElementCount);
        Assert.False(file.Contains("lm_head.weight")); // tied embeddings
        long next = 0;
        foreach (var t in file.Tensors)
        {
            Assert.Equal(next, t.DataOffset); // the reference writer leaves no gaps
            next += t.ByteLength;
            Assert.True(file.Bytes(t).SequenceEqual(raw.AsSpan((int)(8 + headerLength + t.DataOffset), (int)t.ByteLength)));
        }
        Assert.Equal(file.DataLength, next);
        var values = file.ReadFloat32("model.norm.weight");
        var norm = file.Get("model.norm.weight");
        Assert.Equal(BitConverter.ToSingle(raw, (int)(8 + headerLength + norm.DataOffset)), values[0]);
    }

    [SkippableFact]
    public void TensorDataIsMappedNotCopied()
    {
        using var file = SafetensorsFile.Open(Shared.Path("models", "stories260k", "model.safetensors"));
        var first = file.Tensors[0];
        byte* basePtr = file.Pointer(first);
        foreach (var t in file.Tensors)
        {
            Assert.Equal((nint)(basePtr + t.DataOffset - first.DataOffset), (nint)file.Pointer(t));
            fixed (byte* spanPtr = file.Bytes(t))
                Assert.Equal((nint)file.Pointer(t), (nint)spanPtr);
        }
    }

    [SkippableFact]
    public void ReadsIntegerGoldens()
    {
        using var file = SafetensorsFile.Open(Path.Combine(Shared.Golden("llama"), "golden.safetensors"));
        var ids = file.Get("input_ids");
        Assert.Equal(DType.I64, ids.DType);
        Assert.Equal([2L, 7L], ids.Shape);
        var values = file.ReadInt64("input_ids");
        Assert.Equal(MemoryMarshal.Cast<byte, long>(file.Bytes(ids)).ToArray(), values);
        Assert.Throws<ModelFileException>(() => file.ReadFloat32("input_ids"));
        Assert.Throws<ModelFileException>(() => file.ReadInt64("logits"));
        Assert.Contains("'nope' is missing", Assert.Throws<ModelFileException>(() => file.Get("nope")).Message);
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(7)]
    public void RejectsFilesShorterThanTheLengthField(int length)
    {
        var e = OpenFails(WriteRaw(new byte[length]));
        Assert.Contains("8-byte header length", e.Message);
    }

    [SkippableFact]
    public void RejectsMissingFileAndFolder()
    {
        Assert.Contains("not found", OpenFails(_temp.File("absent.safetensors")).Message);
        Assert.Contains("folder", OpenFails(_temp.Path).Message);
    }

    [SkippableTheory]
    [InlineData("{}")]
    [InlineData("{\"__metadata__\":{\"format\":\"pt\"}}")]
    [InlineData("{\"__metadata__\":null}")]
    public void OpensHeaderOnlyFileWithZeroTensors(string header)
    {
        using var file = SafetensorsFile.Open(WriteRaw(RawSafetensors.Build(header)));
        Assert.Empty(file.Tensors);
        Assert.Equal(0, file.DataLength);
    }

    [SkippableFact]
    public void OpensTensorsWithZeroElements()
    {
        // Empty tensors may sit anywhere in the data region, even at an offset inside another tensor: they own no byte.
        string header = """
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"empty":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},
             "scalar":{"dtype":"I16","shape":[],"data_offsets":[8,10]},"tail":{"dtype":"BF16","shape":[3,0],"data_offsets":[10,10]}}
            """;
        using var file = SafetensorsFile.Open(WriteRaw(RawSafetensors.Build(header, 10)));
        Assert.Equal(["a", "empty", "scalar", "tail"], file.Tensors.Select(t => t.Name));
        var empty = file.Get("empty");
        Assert.Equal(0, empty.ElementCount);
        Assert.Equal(0, file.Bytes(empty).Length);
        Assert.Empty(file.ReadFloat32("empty"));
        Assert.Equal(1, file.Get("scalar").ElementCount);
        Assert.Equal(0, file.Get("scalar").Rank);
    }

    [SkippableFact]
    public void AcceptsWhatTheReferenceAccepts()
    {
        // Unknown fields in an entry, unpadded headers, unused bytes after or between tensors.
        string header = """{"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8],"extra":[1,{"x":null}]},"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}""";
        using var file = SafetensorsFile.Open(WriteRaw(RawSafetensors.Build(header, 20, pad: false)));
        Assert.Equal(["a", "b"], file.Tensors.Select(t => t.Name));
        Assert.Equal(20, file.DataLength);
    }

    public static TheoryData<string, long, string[]> BadHeaders => new()
    {
        { "{\"w\":", 0, ["not valid JSON"] },
        { "[]", 0, ["must start with '{'"] },
        { "\"w\"", 0, ["must start with '{'"] },
        { "{} x", 0, ["not valid JSON"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, ["not valid JSON"] },
        { "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, ["tensor 'w'", "unsupported dtype 'F8_E4M3'"] },
        { "{\"w\":{\"dtype\":\"F32,F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, ["tensor 'w'", "unsupported dtype"] },
        { "{\"w\":{\"dtype\":\" F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "unsupported dtype"] },
        { "{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "unsupported dtype"] },
        { "{\"w\":{\"dtype\":\"1\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "unsupported dtype"] },
        { "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "'dtype'"] },
        { "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "'dtype'"] },
        { "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "'shape'"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, ["tensor 'w'", "'data_offsets'"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "shape entry -1"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "shape entry 1.5"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "shape entry"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "shape entry"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, ["tensor 'w'", "too large"] },
        { "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, ["tensor 'w'", "rank 17"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, ["tensor 'w'", "needs 8 bytes", "span 4"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, ["tensor 'w'", "past the data region (4 bytes)"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, ["tensor 'w'", "end before they begin"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, ["tensor 'w'", "'data_offsets'"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, ["tensor 'w'", "'data_offsets'"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, ["tensor 'w'", "data offset -4"] },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4, ["tensor 'w'", "data offset \"4\""] },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, ["'a' and 'b' overlap"] },
        { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, ["'a' and 'b' overlap"] },
        { "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, ["tensor 'w' appears twice"] },
        { "{\"w\":3}", 0, ["tensor 'w'", "must be an object"] },
        { "{\"w\":null}", 0, ["tensor 'w'", "must be an object"] },
        { "{\"__metadata__\":[\"pt\"]}", 0, ["'__metadata__' must be an object"] },
        { "{\"__metadata__\":{\"format\":1}}", 0, ["'__metadata__' entry 'format' is not a string"] },
        { "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, ["'__metadata__' entry 'a' appears twice"] },
        { "{\"__metadata__\":{},\"__metadata__\":{}}", 0, ["'__metadata__' appears twice"] },
        { "{\"w\":[[[[[[[[[[[[1]]]]]]]]]]]]}", 0, ["not valid JSON"] },
        { "{\"\\ud800\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, ["not valid text"] },
        { "{\"w\":{\"dtype\":\"\\udc00\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, ["not valid text"] },
    };

    [SkippableTheory]
    [MemberData(nameof(BadHeaders))]
    public void RejectsBadHeadersNamingFileTensorAndProblem(string header, long dataLength, string[] expected)
    {
        var e = OpenFails(WriteRaw(RawSafetensors.Build(header, dataLength)));
        foreach (var part in expected)
            Assert.Contains(part, e.Message);
    }

    [SkippableFact]
    public void RejectsHeaderThatIsNotUtf8()
    {
        byte[] header = Encoding.UTF8.GetBytes("{\"w\xff\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}");
        header[3] = 0xFF;
        Assert.Contains("not valid UTF-8", OpenFails(WriteRaw(RawSafetensors.Build(header, []))).Message);
        Assert.Contains("must start with '{'", OpenFails(WriteRaw(RawSafetensors.Build([0xEF, 0xBB, 0xBF, .. "{}"u8], []))).Message); // BOM
    }

    [SkippableTheory]
    [InlineData(0UL, "header length is 0")]
    [InlineData(100_000_001UL, "100 MB")]
    [InlineData(ulong.MaxValue, "100 MB")]
    [InlineData(0x8000_0000_0000_0000UL, "100 MB")]
    [InlineData(17UL, "runs past the end")]
    public void RejectsLyingHeaderLengths(ulong length, string expected)
    {
        byte[] file = RawSafetensors.Build("{}");
        BinaryPrimitives.WriteUInt64LittleEndian(file, length);
        Assert.Contains(expected, OpenFails(WriteRaw(file)).Message);
    }

    [SkippableFact]
    public void TruncationInsideTheDataRegionNamesTheTensor()
    {
        byte[] raw = File.ReadAllBytes(Shared.Path("models", "stories260k", "model.safetensors"));
        var e = OpenFails(WriteRaw(raw[..^1]));
        Assert.Contains("tensor 'model.norm.weight'", e.Message);
        Assert.Contains("past the data region", e.Message);
    }

    [SkippableFact]
    public void PointerAccessAfterDisposeThrows()
    {
        var file = SafetensorsFile.Open(Shared.Path("models", "stories260k", "model.safetensors"));
        var t = file.Tensors[0];
        file.Dispose();
        file.Dispose(); // twice is fine
        Assert.Throws<ObjectDisposedException>(() => (nint)file.Pointer(t));
        Assert.Throws<ObjectDisposedException>(() => file.Bytes(t).Length);
        Assert.Throws<ObjectDisposedException>(() => file.ReadFloat32(t.Name));
        Assert.Throws<ObjectDisposedException>(() => (nint)new TensorRef(file, t).Pointer);
        Assert.Equal(47, file.Tensors.Count); // the header stays readable
    }

    [SkippableFact]
    public void PointerRefusesTensorsOutsideTheFile()
    {
        using var file = SafetensorsFile.Open(WriteRaw(RawSafetensors.Build("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4)));
        Assert.Throws<ArgumentException>(() => (nint)file.Pointer(new TensorInfo("x", DType.U8, [5], 0, 5)));
        Assert.Throws<ArgumentException>(() => (nint)file.Pointer(new TensorInfo("x", DType.U8, [1], -1, 1)));
        Assert.Throws<ArgumentException>(() => (nint)file.Pointer(new TensorInfo("x", DType.U8, [1], long.MaxValue, 1)));
        Assert.Equal(4, file.Bytes(new TensorInfo("x", DType.U8, [4], 0, 4)).Length);
    }

    [SkippableFact]
    public void OpenFileCanBeOpenedTwiceAndReplacedByTheWriter()
    {
        string path = _temp.File("w.safetensors");
        SafetensorsWriter.Write(path, [TensorData.FromFloats("x", [2], [1f, 2f])]);
        using var a = SafetensorsFile.Open(path);
        using var b = SafetensorsFile.Open(path);
        SafetensorsWriter.Write(path, [TensorData.FromFloats("x", [2], [3f, 4f])]);
        Assert.Equal([1f, 2f], a.ReadFloat32("x")); // the old mapping survives the rewrite
        using var c = SafetensorsFile.Open(path);
        Assert.Equal([3f, 4f], c.ReadFloat32("x"));
        Assert.Equal(Unsafe.SizeOf<float>() * 2, b.Get("x").ByteLength);
    }

    [Fact]
    public void TheHashOfAWriteIsTheSha256OfTheFileItWrote()
    {
        string path = _temp.File("hashed.safetensors");
        byte[] hash = SafetensorsWriter.WriteWithSha256(path,
            [TensorData.FromFloats("a", [3], [1f, -2f, 3.5f]), TensorData.FromInt64("b", [2], [7, -9])], new Dictionary<string, string> { ["k"] = "v" });
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)), hash);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal([1f, -2f, 3.5f], file.ReadFloat32("a"));
    }
}
