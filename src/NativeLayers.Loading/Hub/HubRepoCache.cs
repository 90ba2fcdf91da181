namespace NativeLayers.Loading.Hub;

/// <summary>
/// One repository's folder in the cache, laid out as huggingface_hub lays it out, so models either downloaded are
/// shared: models--ORG--NAME/refs/REVISION holds the commit hash; blobs/ETAG holds each file's content once, whatever
/// the revisions that contain it; snapshots/COMMIT/FILE is a relative symbolic link to ../../blobs/ETAG.
/// </summary>
internal sealed class HubRepoCache(string cacheRoot, string repoId)
{
    private readonly string _folderName = "models--" + repoId.Replace("/", "--");

    public string CacheRoot { get; } = cacheRoot;
    public string Folder => Path.Combine(CacheRoot, _folderName);

    public string Snapshot(string commit) => Path.Combine(Folder, "snapshots", commit);

    public string SnapshotFile(string commit, string file) => Path.Combine(Snapshot(commit), file);

    public string Blob(string etag) => Path.Combine(Folder, "blobs", etag);

    public string IncompleteBlob(string etag) => Blob(etag) + ".incomplete";

    /// <summary>The lock huggingface_hub's FileLock takes for the same blob (both lock with flock), so the two never write one blob at once.</summary>
    public string BlobLock(string etag) => Path.Combine(CacheRoot, ".locks", _folderName, etag + ".lock");

    public string RefFile(string revision) => Path.Combine(Folder, "refs", revision);

    /// <summary>The commit a branch or tag pointed at when it was last resolved, or null when it never was.</summary>
    public string? ReadRef(string revision)
    {
        string path = RefFile(revision);
        try { return File.Exists(path) && File.ReadAllText(path).Trim() is { } commit && HubModelReference.CommitHash().IsMatch(commit) ? commit : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public void WriteRef(string revision, string commit) => StagedFiles.Write(RefFile(revision), stream => stream.Write(System.Text.Encoding.ASCII.GetBytes(commit)));

    /// <summary>
    /// Points snapshots/COMMIT/FILE at its blob, replacing what is there in one rename (so two processes linking the
    /// same file do not trip over each other). Where symbolic links cannot be made (Windows without developer mode),
    /// huggingface_hub's fallback: a blob just downloaded moves there, a blob already shared is copied.
    /// </summary>
    public void Link(string commit, string file, string etag, bool newBlob)
    {
        string pointer = SnapshotFile(commit, file);
        string blob = Blob(etag);
        string folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        string temporary = $"{pointer}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.CreateSymbolicLink(temporary, Path.GetRelativePath(folder, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            if (newBlob) { File.Move(blob, pointer, overwrite: true); return; }
            File.Copy(blob, temporary);
        }
        File.Move(temporary, pointer, overwrite: true);
    }
}
