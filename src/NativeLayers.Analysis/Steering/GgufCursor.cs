using System.Buffers.Binary;
using System.Text;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Steering;

/// <summary>
/// A bounds-checked little-endian reader over a whole GGUF file held in memory. Every length or count is checked
/// against the bytes that remain before anything is allocated, so a corrupt file fails with a
/// <see cref="ModelFileException"/> naming it, never with a crash or a huge allocation.
/// </summary>
internal sealed class GgufCursor(string path, byte[] bytes)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private const int MaxArrayNesting = 8;

    public string Path { get; } = path;
    public int Position { get; private set; }
    public int Length => bytes.Length;
    public long Remaining => bytes.Length - Position;

    public ModelFileException Fail(string problem) => new(Path, problem);

    private ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw Fail($"is truncated: {what} at byte {Position} needs {count} bytes but only {Remaining} remain.");
        var span = bytes.AsSpan(Position, (int)count);
        Position += (int)count;
        return span;
    }

    public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));
    public ReadOnlySpan<byte> Bytes(int count, string what) => Take(count, what);

    /// <summary>Checks a count read from the file against the bytes left, given the smallest size of one item.</summary>
    public int Count(ulong count, int minItemBytes, string what)
    {
        if (count > (ulong)Math.Max(Remaining, 0) / (ulong)minItemBytes)
            throw Fail($"claims {count} {what}, more than its remaining {Remaining} bytes can hold.");
        return (int)count;
    }

    public string String(string what)
    {
        ulong length = U64($"the length of {what}");
        if (length > (ulong)Remaining)
            throw Fail($"is truncated or corrupt: {what} at byte {Position - 8} claims {length} bytes but only {Remaining} remain.");
        var raw = Take((long)length, what);
        try { return StrictUtf8.GetString(raw); }
        catch (DecoderFallbackException) { throw Fail($"{what} at byte {Position - (int)length} is not valid UTF-8."); }
    }

    public GgufValueType ValueType(string what)
    {
        uint t = U32(what);
        if (GgufTypes.FixedSize((GgufValueType)t) < 0)
            throw Fail($"{what} is {t}, which is not a GGUF value type (0–12).");
        return (GgufValueType)t;
    }

    /// <summary>Reads a scalar of any integer type as a signed 64-bit value (u64 above long.MaxValue fails).</summary>
    public long Integer(GgufValueType type, string what)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return Take(1, what)[0];
            case GgufValueType.Int8: return (sbyte)Take(1, what)[0];
            case GgufValueType.UInt16: return BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
            case GgufValueType.Int16: return BinaryPrimitives.ReadInt16LittleEndian(Take(2, what));
            case GgufValueType.UInt32: return BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
            case GgufValueType.Int32: return BinaryPrimitives.ReadInt32LittleEndian(Take(4, what));
            case GgufValueType.Int64: return BinaryPrimitives.ReadInt64LittleEndian(Take(8, what));
            case GgufValueType.UInt64:
                ulong u = BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));
                if (u > long.MaxValue) throw Fail($"{what} is {u}, out of range.");
                return (long)u;
            default: throw Fail($"{what} has type {type}, expected an integer.");
        }
    }

    /// <summary>Skips a value of the given type, arrays (of arrays) included.</summary>
    public void Skip(GgufValueType type, string what, int depth = 0)
    {
        int size = GgufTypes.FixedSize(type);
        if (size > 0) { Take(size, what); return; }
        if (type == GgufValueType.String)
        {
            ulong length = U64($"the length of {what}");
            if (length > (ulong)Remaining) throw Fail($"is truncated or corrupt: {what} claims {length} bytes but only {Remaining} remain.");
            Take((long)length, what);
            return;
        }
        if (depth >= MaxArrayNesting) throw Fail($"{what} nests arrays more than {MaxArrayNesting} deep.");
        var element = ValueType($"the element type of {what}");
        ulong count = U64($"the element count of {what}");
        int elementSize = GgufTypes.FixedSize(element);
        if (elementSize > 0)
        {
            if (count > (ulong)Remaining / (ulong)elementSize)
                throw Fail($"is truncated or corrupt: {what} claims {count} elements of {element} but only {Remaining} bytes remain.");
            Take((long)count * elementSize, what);
            return;
        }
        // Strings need at least 8 bytes each (their length), arrays at least 12 (element type + count).
        int n = Count(count, element == GgufValueType.String ? 8 : 12, $"elements in {what}");
        for (int i = 0; i < n; i++) Skip(element, $"element {i} of {what}", depth + 1);
    }

    public void AlignTo(int alignment, string what)
    {
        long aligned = (Position + (long)alignment - 1) / alignment * alignment;
        if (aligned > Length) throw Fail($"is truncated: {what} would start at byte {aligned}, past the end ({Length} bytes).");
        Position = (int)aligned;
    }
}
