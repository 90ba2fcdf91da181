namespace NativeLayers.Loading.Hub;

/// <summary>What a user is told when the cache cannot take a download: a full disk and a read-only cache are named as such.</summary>
internal static class CacheWriteErrors
{
    private const int Enospc = 28;                          // Linux errno (a full disk's only sign is its code)
    private const int ErrorHandleDiskFull = unchecked((int)0x80070027);
    private const int ErrorDiskFull = unchecked((int)0x80070070);

    public static bool IsDiskFull(IOException e) =>
        e.HResult is Enospc or ErrorHandleDiskFull or ErrorDiskFull || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);

    public static ModelFileException Describe(string cacheRoot, string path, string download, Exception e) => e switch
    {
        IOException io when IsDiskFull(io) => new ModelFileException(cacheRoot,
            $"no space left on the disk of the hub cache while downloading {download}. Free some space, or set HF_HUB_CACHE " +
            "to a folder on a larger disk, then run the command again (a partial download resumes).", e),
        UnauthorizedAccessException => new ModelFileException(cacheRoot, $"the hub cache is not writable ({e.Message}); set HF_HUB_CACHE to a folder you can write.", e),
        _ => new ModelFileException(path, $"cannot write the download of {download}: {e.Message}", e),
    };
}
