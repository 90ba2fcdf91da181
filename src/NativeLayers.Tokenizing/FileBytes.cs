using NativeLayers.Loading;

namespace NativeLayers.Tokenizing;

/// <summary>Reads whole files, reporting I/O problems as <see cref="ModelFileException"/>.</summary>
internal static class FileBytes
{
    public static byte[] Read(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException(path, $"cannot read the file: {e.Message}", e);
        }
    }
}
