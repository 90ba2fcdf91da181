using System.Buffers.Binary;
using System.Text;

namespace NativeLayers.Loading.Tests;

/// <summary>
/// Where the read-only reference data lives: ../shared beside the folder holding NativeLayers.sln (a test that needs
/// it is skipped when it is missing), except stories260k's model files, which are in the repository.
/// </summary>
internal static class Shared
{
    public static string Root => ReferenceData.RequireShared();

    public static string Path(params string[] parts) => ReferenceData.Shared(parts);

    public static string Golden(string fixture) => Path("fixtures", "golden", fixture);

    public static string Stories => ReferenceData.Stories260k;
}

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("nl-loading-tests-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Builds safetensors files byte by byte, so tests can write what the writer never would.</summary>
internal static class RawSafetensors
{
    /// <summary>8-byte LE length of the header (as given, unpadded unless <paramref name="pad"/>), header, data.</summary>
    public static byte[] Build(string header, long dataLength = 0, bool pad = true) =>
        Build(Encoding.UTF8.GetBytes(header), new byte[dataLength], pad);

    public static byte[] Build(byte[] header, byte[] data, bool pad = true)
    {
        int padded = pad ? (header.Length + 7) / 8 * 8 : header.Length;
        var file = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        header.CopyTo(file, 8);
        file.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        data.CopyTo(file, 8 + padded);
        return file;
    }

    /// <summary>Splits a file into its header text (padding kept) and data region.</summary>
    public static (byte[] Header, byte[] Data) Split(byte[] file)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        return (file[8..(8 + n)], file[(8 + n)..]);
    }
}
