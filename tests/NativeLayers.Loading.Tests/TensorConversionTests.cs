using System.Runtime.InteropServices;

namespace NativeLayers.Loading.Tests;

/// <summary>Reading tensors of every integer and float dtype as int64 / float32, and the refusals that name tensor, dtype and file.</summary>
public sealed class TensorConversionTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private static TensorData Raw<T>(string name, DType dtype, T[] values) where T : struct =>
        new(name, dtype, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private string Write()
    {
        string path = _temp.File("dtypes.safetensors");
        SafetensorsWriter.Write(path, [
            Raw("i32", DType.I32, new[] { int.MinValue, -1, 0, 7, int.MaxValue }),
            Raw("i16", DType.I16, new short[] { short.MinValue, -2, 3, short.MaxValue }),
            Raw("i8", DType.I8, new sbyte[] { -128, -1, 5, 127 }),
            Raw("u8", DType.U8, new byte[] { 0, 1, 200, 255 }),
            Raw("f64", DType.F64, new[] { -1.5, 0.25, 1e10 }),
            Raw("f16", DType.F16, new[] { (Half)(-2.5f), (Half)0.125f, Half.MaxValue }),
            Raw("bf16", DType.BF16, new ushort[] { 0x3F80, 0xC040, 0x0000 }), // 1, −3, 0
        ]);
        return path;
    }

    [Fact]
    public void IntegerTensorsWidenToInt64ExactlyAndFloatTensorsToFloat32()
    {
        using var file = SafetensorsFile.Open(Write());
        Assert.Equal([int.MinValue, -1L, 0, 7, int.MaxValue], file.ReadInt64("i32"));
        Assert.Equal([short.MinValue, -2L, 3, short.MaxValue], file.ReadInt64("i16"));
        Assert.Equal([-128L, -1, 5, 127], file.ReadInt64("i8"));
        Assert.Equal([0L, 1, 200, 255], file.ReadInt64("u8"));
        Assert.Equal([-1.5f, 0.25f, 1e10f], file.ReadFloat32("f64"));
        Assert.Equal([-2.5f, 0.125f, 65504f], file.ReadFloat32("f16"));
        Assert.Equal([1f, -3f, 0f], file.ReadFloat32("bf16"));
    }

    [Fact]
    public void AWrongKindOfDtypeIsRefusedNamingTensorDtypeAndFile()
    {
        string path = Write();
        using var file = SafetensorsFile.Open(path);
        var asFloat = Assert.Throws<ModelFileException>(() => file.ReadFloat32("i32"));
        Assert.Contains("tensor 'i32' is I32, expected a floating-point dtype", asFloat.Message);
        Assert.Contains(path, asFloat.Message);
        var asInt = Assert.Throws<ModelFileException>(() => file.ReadInt64("f16"));
        Assert.Contains("tensor 'f16' is F16, expected an integer dtype", asInt.Message);
        Assert.Contains(path, asInt.Message);
    }

    [Fact]
    public void ATensorInfoPointingOutsideTheDataIsRefused()
    {
        string path = Write();
        using var file = SafetensorsFile.Open(path);
        var inside = file.Get("u8");
        Assert.Equal([0, 1, 200, 255], file.Bytes(inside).ToArray());
        var forged = inside with { Name = "forged", DataOffset = file.DataLength - 2 };
        var error = Assert.Throws<ArgumentException>(() => file.Bytes(forged));
        Assert.Contains($"tensor 'forged' at [{file.DataLength - 2}, +4) is not inside the {file.DataLength}-byte data region of {path}", error.Message);
        Assert.Throws<ArgumentException>(() => file.Bytes(inside with { DataOffset = -1 }));
        Assert.Throws<ArgumentException>(() => file.Bytes(inside with { ByteLength = int.MaxValue })); // fits a span, but not the file
        var huge = Assert.Throws<ModelFileException>(() => file.Bytes(inside with { ByteLength = (long)int.MaxValue + 1 }));
        Assert.Contains("too large for a single span", huge.Message);
    }
}
