using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace NativeLayers.Loading.Numpy;

/// <summary>One array of a .npy file (NumPy format 1.0–3.0), as float32 in C order.</summary>
public sealed record NpyArray(string Name, long[] Shape, float[] Values)
{
    private static readonly Regex Descr = new(@"'descr'\s*:\s*'([<>|=]?)([fiu])(\d+)'", RegexOptions.CultureInvariant);
    private static readonly Regex Fortran = new(@"'fortran_order'\s*:\s*(True|False)", RegexOptions.CultureInvariant);
    private static readonly Regex ShapeField = new(@"'shape'\s*:\s*\(([^)]*)\)", RegexOptions.CultureInvariant);

    /// <summary>Reads little-endian float16/32/64 or integer arrays (converted to float32); <paramref name="source"/> names the file in errors.</summary>
    public static NpyArray Read(Stream stream, string name, string source)
    {
        using var reader = new BinaryReader(stream, Encoding.Latin1, leaveOpen: true);
        byte[] magic = reader.ReadBytes(6);
        if (magic.Length < 6 || magic[0] != 0x93 || Encoding.ASCII.GetString(magic, 1, 5) != "NUMPY")
            throw new ModelFileException(source, $"'{name}' is not a .npy array (no \\x93NUMPY magic).");
        int major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major switch
        {
            1 => reader.ReadUInt16(),
            2 or 3 => checked((int)reader.ReadUInt32()),
            _ => throw new ModelFileException(source, $"'{name}': .npy format version {major} is not supported (1, 2 or 3)."),
        };
        string header = Encoding.Latin1.GetString(reader.ReadBytes(headerLength));
        var descr = Descr.Match(header);
        var shapeText = ShapeField.Match(header);
        if (!descr.Success || !shapeText.Success)
            throw new ModelFileException(source, $"'{name}': cannot read the .npy header {header.Trim()}.");
        if (Fortran.Match(header) is { Success: true } f && f.Groups[1].Value == "True")
            throw new ModelFileException(source, $"'{name}' is stored in Fortran order; save it in C order (np.ascontiguousarray).");
        if (descr.Groups[1].Value == ">")
            throw new ModelFileException(source, $"'{name}' is big-endian; save it little-endian.");
        long[] shape = shapeText.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(long.Parse).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        char kind = descr.Groups[2].Value[0];
        int size = int.Parse(descr.Groups[3].Value);
        byte[] data = reader.ReadBytes(checked((int)(count * size)));
        if (data.Length != count * size)
            throw new ModelFileException(source, $"'{name}' is truncated: {data.Length} of {count * size} data bytes.");
        return new NpyArray(name, shape, Convert(data, kind, size, count, name, source));
    }

    private static float[] Convert(byte[] data, char kind, int size, long count, string name, string source)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            var bytes = data.AsSpan((int)(i * size), size);
            values[i] = (kind, size) switch
            {
                ('f', 4) => BitConverter.ToSingle(bytes),
                ('f', 8) => (float)BitConverter.ToDouble(bytes),
                ('f', 2) => (float)BitConverter.ToHalf(bytes),
                ('i', 4) => BitConverter.ToInt32(bytes),
                ('i', 8) => BitConverter.ToInt64(bytes),
                _ => throw new ModelFileException(source, $"'{name}' has dtype {kind}{size}; float16/32/64 or int32/64 arrays are read."),
            };
        }
        return values;
    }

    /// <summary>Every array of an .npz archive (a zip of .npy files, stored or deflated), by name without ".npy".</summary>
    public static IReadOnlyDictionary<string, NpyArray> ReadArchive(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found.");
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var arrays = new Dictionary<string, NpyArray>();
            foreach (var entry in zip.Entries.Where(e => e.Name.EndsWith(".npy", StringComparison.Ordinal)))
            {
                string name = entry.FullName[..^4];
                using var stream = entry.Open();
                using var buffered = new MemoryStream();
                stream.CopyTo(buffered);
                buffered.Position = 0;
                arrays[name] = Read(buffered, name, path);
            }
            return arrays;
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException(path, $"not a readable .npz (zip) archive: {e.Message}");
        }
    }
}
