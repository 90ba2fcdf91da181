using System.Text;

namespace NativeLayers.Loading;

/// <summary>
/// Output files that appear only when complete: each is written in full beside its destination under a temporary
/// name, and only <see cref="Commit"/> renames them into place, so a failure while producing a set of outputs leaves
/// none of them (and a reader that has an old file mapped keeps its unlinked copy instead of seeing it truncated).
/// Disposing without committing deletes what was staged. Errors name the destination, never the temporary file.
/// </summary>
public sealed class StagedFiles : IDisposable
{
    private readonly List<(string Temp, string Path)> _staged = [];

    /// <summary>Writes one file atomically.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var files = new StagedFiles();
        files.Stage(path, write);
        files.Commit();
    }

    public void Stage(string path, byte[] bytes) => Stage(path, stream => stream.Write(bytes));

    /// <summary>Stages UTF-8 text (no byte order mark).</summary>
    public void Stage(string path, string text) => Stage(path, Encoding.UTF8.GetBytes(text));

    public void Stage(string path, Action<Stream> write)
    {
        OutputPaths.PrepareFile(path);
        string temp = Path.GetFullPath(path) + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            write(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            throw CannotWrite(path, temp, e);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        _staged.Add((temp, path));
    }

    /// <summary>Renames every staged file into place.</summary>
    public void Commit()
    {
        foreach (var (temp, path) in _staged)
        {
            try { File.Move(temp, Path.GetFullPath(path), overwrite: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw CannotWrite(path, temp, e); }
        }
        _staged.Clear();
    }

    public void Dispose()
    {
        foreach (var (temp, _) in _staged) File.Delete(temp);
        _staged.Clear();
    }

    private static ModelFileException CannotWrite(string path, string temp, Exception e) =>
        new(path, $"cannot write: {e.Message.Replace(temp, Path.GetFullPath(path))}", e);
}

/// <summary>Checks on output paths, made before any work so a long computation does not end in an unwritable path.</summary>
public static class OutputPaths
{
    /// <summary>Refuses a directory where the file is to go, creates its missing folders and checks that they take files.</summary>
    public static void PrepareFile(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new ModelFileException(path, "is a directory, not a file.");
        PrepareFolder(Path.GetDirectoryName(full)!, path);
    }

    /// <summary>Refuses a file where the folder is to go, creates it (and its parents) and checks that it takes files.</summary>
    public static void PrepareFolder(string path) => PrepareFolder(Path.GetFullPath(path), path);

    private static void PrepareFolder(string folder, string path)
    {
        for (string? dir = folder; dir != null && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir))
            if (File.Exists(dir))
                throw new ModelFileException(path, dir == folder ? "is a file, not a folder." : $"{dir} is a file, so the folder {folder} cannot be created.");
        string probe = Path.Combine(folder, $".nl-write-check-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(folder);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException(path, $"cannot write in the folder {folder}: {e.Message.Replace(probe, folder)}", e);
        }
    }
}
