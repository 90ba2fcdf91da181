namespace NativeLayers.Loading.Hub;

/// <summary>
/// An exclusive lock on a lock file, held until disposed. On Unix .NET takes it with flock, as Python's filelock does
/// for huggingface_hub, so nl and Python never download one blob at the same time; a waiter polls until it is free.
/// </summary>
internal static class FileLock
{
    private const int Ewouldblock = 11;                   // Linux; 35 on macOS
    private const int EwouldblockMac = 35;
    private const int ErrorSharingViolation = unchecked((int)0x80070020);
    private const int ErrorLockViolation = unchecked((int)0x80070021);

    public static async Task<IDisposable> AcquireAsync(string path, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (e.HResult is Ewouldblock or EwouldblockMac or ErrorSharingViolation or ErrorLockViolation)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancel);
            }
        }
    }
}
