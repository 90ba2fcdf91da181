using System.Reflection;
using System.Security.Cryptography;

namespace NativeLayers.Cli;

/// <summary>
/// The default model: stories260k (Andrej Karpathy's stories260K from llama2.c, MIT; models/stories260k in the
/// repository), embedded in nl and extracted once to a cache folder, so every command works without --model.
/// </summary>
public static class DefaultModel
{
    public const string Name = "stories260k";

    /// <summary>Embedded resources are named "stories260k/FILE".</summary>
    private const string Prefix = Name + "/";

    private static readonly Lazy<string> Extracted = new(Extract, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder holding the extracted default model (extracted on the first call).</summary>
    public static string Directory => Extracted.Value;

    /// <summary>The cache root: $NL_CACHE_DIR, else $XDG_CACHE_HOME/nativelayers, else ~/.cache/nativelayers, else the temp folder.</summary>
    public static string CacheRoot()
    {
        if (Environment.GetEnvironmentVariable("NL_CACHE_DIR") is { Length: > 0 } explicitRoot) return explicitRoot;
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) return Path.Combine(xdg, "nativelayers");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return home.Length > 0 ? Path.Combine(home, ".cache", "nativelayers") : Path.Combine(Path.GetTempPath(), "nativelayers");
    }

    private static string Extract()
    {
        var assembly = typeof(DefaultModel).Assembly;
        var names = assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        if (names.Length == 0) throw new InvalidOperationException("this build of nl has no embedded default model; give --model DIR.");
        var files = names.Select(n => (File: n[Prefix.Length..], Bytes: Read(assembly, n))).ToArray();

        // The folder is named by the content, so a newer nl with another model never reads an older extraction.
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (file, bytes) in files) { sha.AppendData(System.Text.Encoding.UTF8.GetBytes(file)); sha.AppendData(bytes); }
        string id = Convert.ToHexStringLower(sha.GetHashAndReset())[..16];

        try { return ExtractTo(Path.Combine(CacheRoot(), "models", $"{Name}-{id}"), files); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only home: fall back to the temp folder.
            return ExtractTo(Path.Combine(Path.GetTempPath(), "nativelayers", "models", $"{Name}-{id}"), files);
        }
    }

    private static string ExtractTo(string folder, (string File, byte[] Bytes)[] files)
    {
        if (IsComplete(folder, files)) return folder;
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        // Written in a private folder and renamed into place, so another nl never sees a half-written model.
        string temporary = $"{folder}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        System.IO.Directory.CreateDirectory(temporary);
        try
        {
            foreach (var (file, bytes) in files) File.WriteAllBytes(Path.Combine(temporary, file), bytes);
            try { System.IO.Directory.Move(temporary, folder); }
            catch (IOException) when (IsComplete(folder, files)) { }   // another process won the race
            catch (IOException)
            {
                // A damaged earlier extraction: replace it.
                System.IO.Directory.Delete(folder, recursive: true);
                System.IO.Directory.Move(temporary, folder);
            }
        }
        finally
        {
            if (System.IO.Directory.Exists(temporary)) System.IO.Directory.Delete(temporary, recursive: true);
        }
        return folder;
    }

    private static bool IsComplete(string folder, (string File, byte[] Bytes)[] files) =>
        System.IO.Directory.Exists(folder) && files.All(f => new FileInfo(Path.Combine(folder, f.File)) is { Exists: true } info && info.Length == f.Bytes.Length);

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}
