using System.Text.Json;

namespace NativeLayers.Tokenizing.Tests;

/// <summary>Locations of the shared read-only reference data, and scratch folders.</summary>
internal static class TestData
{
    /// <summary>A path in the reference data (stories260k's model files from the repository; the rest skips when ../shared is missing).</summary>
    public static string Shared(params string[] parts) => ReferenceData.Shared(parts);

    public static string Stories260k => ReferenceData.Stories260k;

    /// <summary>stories260k's goldens (in ../shared only).</summary>
    public static string Stories260kGolden(string file) => Shared("models", "stories260k", "golden", file);

    public static string Gpt2 => Shared("tokenizers", "gpt2");

    public static JsonElement ReadJson(string path) => JsonDocument.Parse(File.ReadAllBytes(path)).RootElement.Clone();

    public static int[] Ids(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetInt32())];
}

/// <summary>A temporary folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nl-tokenizing-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Write(string name, string text)
    {
        string file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    public string Write(string name, byte[] bytes)
    {
        string file = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(file, bytes);
        return file;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
