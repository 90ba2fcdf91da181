using System.Buffers.Binary;
using System.Text;

namespace NativeLayers.Loading.Tests;

/// <summary>A GGUF v3 file as the spec lays it out, parsed here independently of the converter's writer.</summary>
internal sealed record MiniGguf(uint Version, Dictionary<string, object> Metadata, List<MiniGgufTensor> Tensors, long DataStart, byte[] File)
{
    public uint Alignment => Metadata.TryGetValue("general.alignment", out var a) ? (uint)a : 32;

    public MiniGgufTensor Tensor(string name) => Tensors.Single(t => t.Name == name);

    public ReadOnlySpan<byte> Bytes(MiniGgufTensor tensor) => File.AsSpan((int)(DataStart + (long)tensor.Offset), (int)tensor.ByteLength);
}

/// <summary>Type: 0 = F32, 1 = F16, 30 = BF16 (the only ones this reader sizes).</summary>
internal sealed record MiniGgufTensor(string Name, ulong[] Dimensions, uint Type, ulong Offset)
{
    public long ByteLength => (long)Dimensions.Aggregate(1UL, (a, b) => a * b) * (Type == 0 ? 4 : 2);
}

internal static class MiniGgufReader
{
    public static MiniGguf Read(string path)
    {
        byte[] file = System.IO.File.ReadAllBytes(path);
        int position = 0;
        uint U32() { uint v = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(position)); position += 4; return v; }
        ulong U64() { ulong v = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(position)); position += 8; return v; }
        string Str() { int n = checked((int)U64()); string s = Encoding.UTF8.GetString(file, position, n); position += n; return s; }
        object Value(uint type) => type switch
        {
            0 => file[position++],
            4 => U32(),
            5 => (int)U32(),
            6 => BitConverter.UInt32BitsToSingle(U32()),
            7 => file[position++] != 0,
            8 => Str(),
            9 => Array(),
            10 => U64(),
            _ => throw new InvalidDataException($"value type {type} at byte {position}"),
        };
        object Array()
        {
            uint elementType = U32();
            ulong count = U64();
            var items = new List<object>();
            for (ulong i = 0; i < count; i++) items.Add(Value(elementType));
            return items;
        }

        Assert.Equal("GGUF", Encoding.ASCII.GetString(file, 0, 4));
        position = 4;
        uint version = U32();
        ulong tensorCount = U64(), kvCount = U64();
        var metadata = new Dictionary<string, object>();
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = Str();
            metadata.Add(key, Value(U32()));
        }
        var tensors = new List<MiniGgufTensor>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = Str();
            uint dims = U32();
            var shape = Enumerable.Range(0, (int)dims).Select(_ => U64()).ToArray();
            uint type = U32();
            tensors.Add(new MiniGgufTensor(name, shape, type, U64()));
        }
        uint alignment = metadata.TryGetValue("general.alignment", out var a) ? (uint)a : 32;
        long dataStart = (position + alignment - 1) / alignment * alignment;
        Assert.All(file.AsSpan(position, (int)(dataStart - position)).ToArray(), b => Assert.Equal(0, b));
        return new MiniGguf(version, metadata, tensors, dataStart, file);
    }
}
