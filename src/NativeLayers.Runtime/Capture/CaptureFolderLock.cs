using NativeLayers.Loading;

namespace NativeLayers.Runtime.Capture;

/// <summary>
/// One writer per capture folder: an exclusive OS lock on capture.lock (the OS drops it when the process dies, so a
/// crash leaves no stale lock) and a note naming the owner, for the error the next writer gets.
/// </summary>
internal sealed class CaptureFolderLock : IDisposable
{
    public const string LockName = "capture.lock";
    public const string OwnerName = "capture.owner";

    private readonly FileStream _lock;
    private readonly string _ownerPath;

    private CaptureFolderLock(FileStream stream, string ownerPath)
    {
        _lock = stream;
        _ownerPath = ownerPath;
    }

    public static CaptureFolderLock Take(string directory)
    {
        string ownerPath = Path.Combine(directory, OwnerName);
        FileStream stream;
        try
        {
            // The lock file itself stays in place: deleting it could let two later writers lock two different files.
            stream = new FileStream(Path.Combine(directory, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            string owner = File.Exists(ownerPath) ? ReadOwner(ownerPath) : "another process";
            throw new NativeLayersException($"{directory} is in use by another capture ({owner}); wait for it to finish, or write to another --out folder.");
        }
        File.WriteAllText(ownerPath, $"pid {Environment.ProcessId}, started {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");
        return new CaptureFolderLock(stream, ownerPath);
    }

    private static string ReadOwner(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return "another process";
        }
    }

    public void Dispose()
    {
        try { File.Delete(_ownerPath); } catch (IOException) { }
        _lock.Dispose();
    }
}
