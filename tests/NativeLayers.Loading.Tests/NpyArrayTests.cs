using System.IO.Compression;
using System.Text;
using NativeLayers.Loading.Numpy;

namespace NativeLayers.Loading.Tests;

/// <summary>.npy arrays and .npz archives (Gemma Scope SAEs) written byte by byte as NumPy's format spec lays them out:
/// every dtype read, every header version, and each malformed file refused with the file, the array and the problem.</summary>
public sealed class NpyArrayTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>\x93NUMPY, version, header length (2 bytes in 1.0, 4 in 2.0/3.0), the header dict padded to 64 bytes, data.</summary>
    private static byte[] Npy(string descr, string shape, byte[] data, int major = 1, string fortran = "False")
    {
        string dict = $"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}";
        int prefix = major == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - prefix - 1) + "\n";
        var stream = new MemoryStream();
        stream.Write([0x93, .. "NUMPY"u8, (byte)major, 0]);
        if (major == 1) stream.Write(BitConverter.GetBytes((ushort)header.Length));
        else stream.Write(BitConverter.GetBytes((uint)header.Length));
        stream.Write(Encoding.Latin1.GetBytes(header));
        stream.Write(data);
        return stream.ToArray();
    }

    private static byte[] Bytes<T>(params T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    private static NpyArray Read(byte[] file) => NpyArray.Read(new MemoryStream(file), "w", "params.npz");

    public static TheoryData<string, byte[]> EveryDtype() => new()
    {
        { "<f4", Bytes(1.5f, -2f, 0.25f, 3e-8f, 7f, -0f) },
        { "<f8", Bytes(1.5, -2.0, 0.25, 3e-8, 7.0, -0.0) },
        { "<f2", Bytes((Half)1.5f, (Half)(-2f), (Half)0.25f, (Half)3e-8f, (Half)7f, (Half)(-0f)) },
        { "<i4", Bytes(1, -2, 0, 3, 7, int.MaxValue) },
        { "<i8", Bytes(1L, -2L, 0L, 3L, 7L, 1L << 40) },
    };

    [Theory]
    [MemberData(nameof(EveryDtype))]
    public void ReadsEachDtypeAsFloat32InCOrder(string descr, byte[] data)
    {
        var array = Read(Npy(descr, "(2, 3)", data));
        Assert.Equal("w", array.Name);
        Assert.Equal([2L, 3L], array.Shape);
        float[] expected = descr switch
        {
            "<f4" => [1.5f, -2f, 0.25f, 3e-8f, 7f, -0f],
            "<f8" => [1.5f, -2f, 0.25f, (float)3e-8, 7f, -0f],
            "<f2" => [1.5f, -2f, 0.25f, (float)(Half)3e-8f, 7f, -0f],
            "<i4" => [1, -2, 0, 3, 7, int.MaxValue],
            _ => [1, -2, 0, 3, 7, 1L << 40],
        };
        Assert.Equal(expected, array.Values);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadsHeaderVersions1To3AndScalarsAndVectors(int major)
    {
        Assert.Equal([4f, 5f, 6f], Read(Npy("<f4", "(3,)", Bytes(4f, 5f, 6f), major)).Values);
        var scalar = Read(Npy("<f4", "()", Bytes(9f), major));
        Assert.Empty(scalar.Shape);
        Assert.Equal([9f], scalar.Values);
        Assert.Empty(Read(Npy("<f4", "(0, 4)", [], major)).Values);
    }

    public static TheoryData<byte[], string> BadArrays() => new()
    {
        { [0x93, .. "NUMPX"u8, 1, 0, 0, 0], "'w' is not a .npy array (no \\x93NUMPY magic)" },
        { [0x93, (byte)'N'], "'w' is not a .npy array" },
        { Npy("<f4", "(1,)", Bytes(1f), major: 4), "'w': .npy format version 4 is not supported (1, 2 or 3)" },
        { Npy("<f4", "(2,)", Bytes(1f, 2f), fortran: "True"), "'w' is stored in Fortran order" },
        { Npy(">f4", "(1,)", Bytes(1f)), "'w' is big-endian; save it little-endian" },
        { Npy("<f4", "(3,)", Bytes(1f, 2f)), "'w' is truncated: 8 of 12 data bytes" },
        { Npy("<i2", "(2,)", Bytes((short)1, (short)2)), "'w' has dtype i2; float16/32/64 or int32/64 arrays are read" },
        { Npy("|u1", "(2,)", [1, 2]), "'w' has dtype u1" },
        { Npy("<c8", "(1,)", Bytes(1f, 2f)), "'w': cannot read the .npy header {'descr': '<c8'" },
    };

    [Theory]
    [MemberData(nameof(BadArrays))]
    public void RefusesMalformedArraysNamingTheFileAndTheArray(byte[] file, string problem)
    {
        var error = Assert.Throws<ModelFileException>(() => Read(file));
        Assert.Equal("params.npz", error.FilePath);
        Assert.StartsWith("params.npz: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void ReadsEveryNpyOfAnArchiveStoredOrDeflatedByName()
    {
        string path = _temp.File("params.npz");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            foreach (var (name, level, values) in new[] { ("W_enc", CompressionLevel.NoCompression, new[] { 1f, 2f }), ("b_dec", CompressionLevel.Optimal, new[] { -3f }) })
            {
                using var entry = zip.CreateEntry(name + ".npy", level).Open();
                entry.Write(Npy("<f4", $"({values.Length},)", Bytes(values)));
            }
            using (var readme = zip.CreateEntry("README.txt").Open()) readme.Write("not an array"u8);
        }
        var arrays = NpyArray.ReadArchive(path);
        Assert.Equal(["W_enc", "b_dec"], arrays.Keys.Order());
        Assert.Equal([1f, 2f], arrays["W_enc"].Values);
        Assert.Equal([-3f], arrays["b_dec"].Values);
    }

    [Fact]
    public void RefusesAMissingOrNonZipArchiveAndBadArraysInsideOne()
    {
        string missing = _temp.File("absent.npz");
        Assert.Equal($"{missing}: file not found.", Assert.Throws<ModelFileException>(() => NpyArray.ReadArchive(missing)).Message);

        string notZip = _temp.File("text.npz");
        File.WriteAllText(notZip, "this is not a zip archive at all");
        var error = Assert.Throws<ModelFileException>(() => NpyArray.ReadArchive(notZip));
        Assert.StartsWith($"{notZip}: not a readable .npz (zip) archive: ", error.Message);

        string bad = _temp.File("bad.npz");
        using (var zip = ZipFile.Open(bad, ZipArchiveMode.Create))
        using (var entry = zip.CreateEntry("W_dec.npy").Open())
            entry.Write(Npy(">f4", "(1,)", Bytes(1f)));
        Assert.Equal($"{bad}: 'W_dec' is big-endian; save it little-endian.", Assert.Throws<ModelFileException>(() => NpyArray.ReadArchive(bad)).Message);
    }
}
