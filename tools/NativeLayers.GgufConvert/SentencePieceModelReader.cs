using System.Buffers.Binary;
using System.Text;

namespace NativeLayers.GgufConvert;

/// <summary>One piece of a SentencePiece model: its text, score and type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).</summary>
public sealed record SentencePiece(string Piece, float Score, int Type);

/// <summary>
/// Reads the pieces of a SentencePiece tokenizer.model (a ModelProto: field 1 is the repeated piece message, whose
/// fields are 1 piece, 2 score, 3 type); every other field is skipped by its wire type.
/// </summary>
public static class SentencePieceModelReader
{
    public static IReadOnlyList<SentencePiece> Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            var pieces = new List<SentencePiece>();
            var reader = new ProtoReader(bytes);
            while (!reader.End)
            {
                var (field, wire) = reader.Key();
                if (field == 1 && wire == 2) pieces.Add(ReadPiece(reader.Bytes()));
                else reader.Skip(wire);
            }
            if (pieces.Count == 0) throw new InvalidDataException("it holds no pieces.");
            return pieces;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{path} is not a SentencePiece model: {e.Message}", e);
        }
    }

    private static SentencePiece ReadPiece(ReadOnlyMemory<byte> message)
    {
        string piece = "";
        float score = 0;
        int type = 1;
        var reader = new ProtoReader(message);
        while (!reader.End)
        {
            var (field, wire) = reader.Key();
            switch (field, wire)
            {
                case (1, 2): piece = Encoding.UTF8.GetString(reader.Bytes().Span); break;
                case (2, 5): score = BitConverter.UInt32BitsToSingle(reader.Fixed32()); break;
                case (3, 0): type = (int)reader.Varint(); break;
                default: reader.Skip(wire); break;
            }
        }
        return new SentencePiece(piece, score, type);
    }

    private sealed class ProtoReader(ReadOnlyMemory<byte> data)
    {
        private int _position;

        public bool End => _position >= data.Length;

        public (int Field, int Wire) Key()
        {
            ulong key = Varint();
            return ((int)(key >> 3), (int)(key & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = data.Span[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw new InvalidDataException($"a varint at byte {_position} runs past 10 bytes.");
        }

        public uint Fixed32()
        {
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(data.Span[_position..]);
            _position += 4;
            return value;
        }

        public ReadOnlyMemory<byte> Bytes()
        {
            int length = checked((int)Varint());
            if (length < 0 || _position + length > data.Length)
                throw new InvalidDataException($"a field of {length} bytes at byte {_position} runs past the end ({data.Length} bytes).");
            var slice = data.Slice(_position, length);
            _position += length;
            return slice;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: _position += 8; break;
                case 2: Bytes(); break;
                case 5: _position += 4; break;
                default: throw new InvalidDataException($"wire type {wire} at byte {_position} is not a protobuf field.");
            }
            if (_position > data.Length) throw new InvalidDataException($"a field runs past the end ({data.Length} bytes).");
        }
    }
}
