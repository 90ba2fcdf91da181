using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests.Steering;

public class GgufControlVectorTests
{
    private static SteeringVectorSet Minimal()
    {
        var set = new SteeringVectorSet(2, new SteeringVectorMetadata { ModelType = "llama" });
        set.Set(1, new float[] { 1, -2 });
        return set;
    }

    /// <summary>The exact bytes a minimal control vector must have, built by hand from the GGUF v3 layout.</summary>
    private static byte[] MinimalBytes() => new GgufBuilder()
        .Header(tensors: 1, kvs: 3)
        .KvString("general.architecture", "controlvector")
        .KvString("controlvector.model_hint", "llama")
        .KvU32("controlvector.layer_count", 1)
        .TensorInfo("direction.1", [2], type: 0, offset: 0)
        .Pad(32)
        .Floats([1, -2])
        .Pad(32)
        .ToArray();

    private static ModelFileException Rejects(byte[] bytes, string fragment)
    {
        var e = Assert.Throws<ModelFileException>(() => GgufControlVectorFile.Parse(bytes, "test.gguf"));
        Assert.Equal("test.gguf", e.FilePath);
        Assert.StartsWith("test.gguf: ", e.Message);
        Assert.Contains(fragment, e.Message);
        return e;
    }

    [Fact]
    public void WriterProducesTheExactMinimalLayout()
    {
        var bytes = GgufControlVectorFile.ToBytes(Minimal(), out var warnings);
        Assert.Empty(warnings);
        var expected = MinimalBytes();
        Assert.Equal(256, expected.Length); // 210 header bytes, padded to 224, 8 data bytes, padded to 256
        Assert.Equal(expected, bytes);
        Assert.Equal("GGUF"u8.ToArray(), bytes[..4]);
        Assert.Equal(new byte[] { 0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0 }, bytes[224..232]);
    }

    [Fact]
    public void ReadsTheMinimalLayout()
    {
        var set = GgufControlVectorFile.Parse(MinimalBytes(), "min.gguf");
        Assert.Equal(2, set.Width);
        Assert.Equal(new[] { 1 }, set.Layers);
        Assert.Equal(new float[] { 1, -2 }, set[1].ToArray());
        Assert.Equal("llama", set.Metadata.ModelType);
        Assert.Null(set.Metadata.Method);
    }

    [Fact]
    public void RoundTripThroughFileKeepsVectorsAndMetadata()
    {
        using var dir = new TempDir();
        var set = SteeringVectorSetTests.Sample(width: 37);
        string path = dir.File("cv.gguf");
        var warnings = GgufControlVectorFile.Write(path, set);
        Assert.Empty(warnings);
        SteeringVectorSetTests.AssertSameSet(set, GgufControlVectorFile.Read(path));
        SteeringVectorSetTests.AssertSameSet(set, SteeringVectorSet.Load(path));
        Assert.Equal(0, new FileInfo(path).Length % 32);
    }

    [Fact]
    public void RoundTripWithoutMetadata()
    {
        var set = new SteeringVectorSet(3);
        set.Set(7, new float[] { 0.25f, -1e-30f, 3e30f });
        var back = GgufControlVectorFile.Parse(GgufControlVectorFile.ToBytes(set, out _), "bare.gguf");
        SteeringVectorSetTests.AssertSameSet(set, back);
        Assert.Null(back.Metadata.ModelType);
    }

    [Fact]
    public void LayerZeroIsWrittenWithAWarning()
    {
        using var dir = new TempDir();
        var set = SteeringVectorSetTests.Sample(4, 0, 2);
        var warnings = GgufControlVectorFile.Write(dir.File("z.gguf"), set);
        Assert.Equal(new[] { GgufControlVectorFile.LayerZeroWarning }, warnings);
        Assert.Contains("direction.0", warnings[0]);
        var back = GgufControlVectorFile.Read(dir.File("z.gguf"));
        Assert.Equal(new[] { 0, 2 }, back.Layers);
    }

    [Fact]
    public void AcceptsRepengStyleFilesWithExtraKeysAndCustomAlignment()
    {
        // As gguf-py writes it, plus keys of every value type (arrays, nested arrays) that must be skipped, a 64-byte
        // alignment, and tensors listed in dictionary order rather than sorted.
        int width = 5;
        var b = new GgufBuilder().Header(tensors: 3, kvs: 9)
            .KvString("general.architecture", "controlvector")
            .Str("general.alignment").U32(4).U32(64)
            .KvString("controlvector.model_hint", "mistral")
            .KvU32("controlvector.layer_count", 3)
            .Str("general.tags").U32(9).U32(8).U64(2).Str("a").Str("bc")
            .Str("x.ints").U32(9).U32(5).U64(3).I32(1).I32(-2).I32(3)
            .Str("x.nested").U32(9).U32(9).U64(2).U32(0).U64(3).Raw(1, 2, 3).U32(12).U64(1).U64(0x4000000000000000)
            .Str("x.f32").U32(6).F32(1.5f)
            .Str("x.bool").U32(7).U8(1);
        ulong stride = 64; // 20 bytes padded to 64
        b.TensorInfo("direction.15", [(ulong)width], 0, 0)
         .TensorInfo("direction.13", [(ulong)width], 0, stride)
         .TensorInfo("direction.14", [(ulong)width, 1], 0, 2 * stride);
        b.Pad(64);
        foreach (int layer in new[] { 15, 13, 14 })
        {
            b.Floats(Enumerable.Range(0, width).Select(i => layer + i / 10f));
            b.Pad(64);
        }
        var set = GgufControlVectorFile.Parse(b.ToArray(), "repeng.gguf");
        Assert.Equal(new[] { 13, 14, 15 }, set.Layers);
        Assert.Equal(width, set.Width);
        Assert.Equal("mistral", set.Metadata.ModelType);
        Assert.Equal(14.3f, set[14][3]);
        Assert.Empty(set.Metadata.Extra);
    }

    [Fact]
    public void TruncationAtEveryLengthIsAClearError()
    {
        var full = MinimalBytes();
        for (int len = 0; len < full.Length; len++)
        {
            var cut = full[..len];
            if (len >= 232) { Assert.Equal(2, GgufControlVectorFile.Parse(cut, "t.gguf").Width); continue; } // only padding lost
            var e = Assert.Throws<ModelFileException>(() => GgufControlVectorFile.Parse(cut, "t.gguf"));
            Assert.StartsWith("t.gguf: ", e.Message);
        }
    }

    [Fact]
    public void RandomCorruptionNeverCrashes()
    {
        var full = GgufControlVectorFile.ToBytes(SteeringVectorSetTests.Sample(width: 6), out _);
        var r = new Random(1234);
        int parsed = 0, rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            var bytes = (byte[])full.Clone();
            int flips = 1 + r.Next(4);
            for (int f = 0; f < flips; f++)
            {
                int at = r.Next(Math.Min(bytes.Length, trial % 2 == 0 ? 400 : bytes.Length));
                bytes[at] = r.Next(3) switch { 0 => (byte)r.Next(256), 1 => 0xFF, _ => (byte)(bytes[at] ^ (1 << r.Next(8))) };
            }
            SteeringVectorSet set;
            try { set = GgufControlVectorFile.Parse(bytes, "fuzz.gguf"); }
            catch (ModelFileException) { rejected++; continue; }
            parsed++;
            // What parses is a well-formed set: one vector of the set's width per layer it lists.
            Assert.True(set.Width > 0);
            Assert.All(set.Layers, l => Assert.Equal(set.Width, set[l].Length));
        }
        Assert.True(rejected > 100);
        Assert.True(parsed > 100); // flips inside the float payload are valid files
    }

    [Fact]
    public void RejectsBadHeaders()
    {
        var good = MinimalBytes();
        var magic = (byte[])good.Clone(); magic[0] = (byte)'X';
        Rejects(magic, "bad magic");
        Rejects("GG"u8.ToArray(), "too short");
        Rejects(new GgufBuilder().Header(1, 3, version: 1).ToArray(), "version 1");
        Rejects(new GgufBuilder().Header(1, 3, version: 4).ToArray(), "version 4");
        Rejects(new GgufBuilder().Ascii("GGUF").U32(0x03000000).U64(0).U64(0).ToArray(), "big-endian");
        Rejects(new GgufBuilder().Header(1, ulong.MaxValue).ToArray(), "key/value pairs");
        Rejects(new GgufBuilder().Header(1, 1 << 20).KvString("general.architecture", "controlvector").ToArray(), "key/value pairs");
        Rejects(new GgufBuilder().Header(ulong.MaxValue, 1).KvString("general.architecture", "controlvector").ToArray(), "tensors");
        Rejects(new GgufBuilder().Header(0, 1).KvString("general.architecture", "controlvector").ToArray(), "no direction tensors");
    }

    [Fact]
    public void RejectsBadKeyValues()
    {
        GgufBuilder Head(ulong kvs) => new GgufBuilder().Header(1, kvs);
        Rejects(Head(1).Str("general.architecture").U32(13).ToArray(), "not a GGUF value type");
        Rejects(Head(2).KvString("general.architecture", "controlvector").Str("x").U32(99).ToArray(), "not a GGUF value type");
        Rejects(Head(1).U64(ulong.MaxValue).ToArray(), "claims");
        Rejects(Head(1).U64(1L << 40).Ascii("abc").ToArray(), "claims");
        Rejects(Head(1).Str("general.architecture").U32(8).U64(ulong.MaxValue - 3).ToArray(), "claims");
        Rejects(Head(2).KvString("general.architecture", "controlvector").Str("x.arr").U32(9).U32(11).U64(ulong.MaxValue / 2).ToArray(), "claims");
        Rejects(Head(2).KvString("general.architecture", "controlvector").Str("x.arr").U32(9).U32(8).U64(1L << 50).ToArray(), "claims");
        Rejects(Head(2).KvString("general.architecture", "controlvector").Str("x.arr").U32(9).U32(13).U64(0).ToArray(), "not a GGUF value type");
        Rejects(Head(1).KvString("general.architecture", "llama").ToArray(), "not a control vector");
        Rejects(Head(1).KvU32("general.architecture", 5).ToArray(), "expected a string");
        Rejects(Head(1).KvString("controlvector.model_hint", "llama").TensorInfo("direction.1", [2], 0, 0).Pad(32).Floats([1, 2]).ToArray(),
            "no 'general.architecture'");
        Rejects(Head(2).KvString("general.architecture", "controlvector").KvString("general.architecture", "controlvector").ToArray(), "repeats");
        Rejects(Head(2).KvString("general.architecture", "controlvector").Str("controlvector.layer_count").U32(8).Str("3").ToArray(), "integer");
        Rejects(Head(2).KvString("general.architecture", "controlvector").KvU32("general.alignment", 24).ToArray(), "power of two");
        Rejects(Head(2).KvString("general.architecture", "controlvector").KvU32("general.alignment", 0).ToArray(), "power of two");
        Rejects(Head(1).Str("general.architecture").U32(8).U64(2).Raw(0xC3, 0x28).ToArray(), "UTF-8");
        var deep = Head(2).KvString("general.architecture", "controlvector").Str("x.deep");
        for (int i = 0; i < 12; i++) deep.U32(9);
        Rejects(deep.ToArray(), "");
    }

    private static byte[] OneTensor(string name, ulong[] dims, uint type = 0, ulong offset = 0, int floats = 2, uint alignment = 32)
    {
        var b = new GgufBuilder().Header(1, 1).KvString("general.architecture", "controlvector").TensorInfo(name, dims, type, offset);
        b.Pad((int)alignment);
        return b.Floats(Enumerable.Repeat(1f, floats)).ToArray();
    }

    [Fact]
    public void RejectsBadTensors()
    {
        Assert.Equal(2, GgufControlVectorFile.Parse(OneTensor("direction.3", [2]), "ok.gguf").Width);
        Rejects(OneTensor("direction.1", [2], type: 1), "F16");
        Rejects(OneTensor("direction.1", [2], type: 28), "F64");
        Rejects(OneTensor("direction.1", [2, 3], floats: 6), "1-D");
        Rejects(OneTensor("direction.1", [], floats: 0), "0 dimensions");
        Rejects(OneTensor("direction.1", [2, 1, 1, 1, 1]), "5 dimensions");
        Rejects(OneTensor("direction.1", [0]), "width 0");
        Rejects(OneTensor("direction.1", [1UL << 40]), "width");
        Rejects(OneTensor("direction.1", [1000]), "truncated");
        Rejects(OneTensor("direction.1", [2], offset: 32), "truncated");
        Rejects(OneTensor("direction.1", [2], offset: 4), "alignment");
        Rejects(OneTensor("direction.1", [2], offset: ulong.MaxValue - 31), "truncated");
        Rejects(OneTensor("layer.1", [2]), "unexpected tensor 'layer.1'");
        Rejects(OneTensor("direction.x", [2]), "unexpected tensor");
        Rejects(OneTensor("direction.-1", [2]), "unexpected tensor");
        Rejects(OneTensor("direction.", [2]), "unexpected tensor");
        var nan = OneTensor("direction.1", [2]);
        nan[^1] = 0x7F; nan[^2] = 0xC0; nan[^3] = 0; nan[^4] = 0;
        Rejects(nan, "NaN");
    }

    [Fact]
    public void RejectsMismatchedWidthsDuplicatesAndOverlaps()
    {
        GgufBuilder Two(string n1, ulong w1, ulong o1, string n2, ulong w2, ulong o2) => new GgufBuilder().Header(2, 1)
            .KvString("general.architecture", "controlvector")
            .TensorInfo(n1, [w1], 0, o1).TensorInfo(n2, [w2], 0, o2).Pad(32).Floats(new float[32]);
        Assert.Equal(2, GgufControlVectorFile.Parse(Two("direction.1", 3, 0, "direction.2", 3, 32).ToArray(), "ok.gguf").Count);
        Rejects(Two("direction.1", 3, 0, "direction.2", 4, 32).ToArray(), "same width");
        Rejects(Two("direction.1", 3, 0, "direction.1", 3, 32).ToArray(), "two tensors for layer 1");
        Rejects(Two("direction.1", 3, 0, "direction.01", 3, 32).ToArray(), "two tensors for layer 1");
        Rejects(Two("direction.1", 3, 0, "direction.2", 3, 0).ToArray(), "overlap");
    }

    [Fact]
    public void FileLevelErrorsNameThePath()
    {
        using var dir = new TempDir();
        string missing = dir.File("nope.gguf");
        Assert.Equal(missing, Assert.Throws<ModelFileException>(() => GgufControlVectorFile.Read(missing)).FilePath);
        Assert.Throws<ModelFileException>(() => GgufControlVectorFile.Read(dir.Path));
        string bad = dir.File("bad.gguf");
        File.WriteAllBytes(bad, "GGUFxxxx"u8.ToArray());
        Assert.Equal(bad, Assert.Throws<ModelFileException>(() => GgufControlVectorFile.Read(bad)).FilePath);
        Assert.Equal(bad, Assert.Throws<ModelFileException>(() => SteeringVectorSet.Load(bad)).FilePath);
        Assert.Throws<NativeLayersException>(() => GgufControlVectorFile.ToBytes(new SteeringVectorSet(3), out _));
    }
}
