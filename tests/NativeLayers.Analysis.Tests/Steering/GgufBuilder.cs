using System.Buffers.Binary;
using System.Text;

namespace NativeLayers.Analysis.Tests.Steering;

/// <summary>
/// An independent, deliberately low-level GGUF byte builder for tests: it writes exactly what it is told, so tests can
/// produce files as gguf-py (repeng) writes them and corrupt them on purpose.
/// </summary>
internal sealed class GgufBuilder
{
    private readonly List<byte> _b = [];

    public int Length => _b.Count;
    public byte[] ToArray() => _b.ToArray();

    public GgufBuilder Raw(params byte[] bytes) { _b.AddRange(bytes); return this; }
    public GgufBuilder Ascii(string s) => Raw(Encoding.ASCII.GetBytes(s));
    public GgufBuilder U8(byte v) => Raw(v);
    public GgufBuilder U32(uint v) { var x = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(x, v); return Raw(x); }
    public GgufBuilder I32(int v) { var x = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(x, v); return Raw(x); }
    public GgufBuilder U64(ulong v) { var x = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(x, v); return Raw(x); }
    public GgufBuilder F32(float v) { var x = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(x, v); return Raw(x); }
    public GgufBuilder Str(string s) { var u = Encoding.UTF8.GetBytes(s); U64((ulong)u.Length); return Raw(u); }
    public GgufBuilder Pad(int alignment) { while (_b.Count % alignment != 0) _b.Add(0); return this; }

    public GgufBuilder Header(ulong tensors, ulong kvs, uint version = 3) => Ascii("GGUF").U32(version).U64(tensors).U64(kvs);
    public GgufBuilder KvString(string key, string value) => Str(key).U32(8).Str(value);
    public GgufBuilder KvU32(string key, uint value) => Str(key).U32(4).U32(value);
    public GgufBuilder TensorInfo(string name, ulong[] dims, uint type, ulong offset)
    {
        Str(name).U32((uint)dims.Length);
        foreach (var d in dims) U64(d);
        return U32(type).U64(offset);
    }
    public GgufBuilder Floats(IEnumerable<float> values) { foreach (var v in values) F32(v); return this; }
}
