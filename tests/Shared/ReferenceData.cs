namespace NativeLayers.TestSupport;

/// <summary>
/// Where the tests find their data. The default model (stories260k: config, weights, tokenizer) is in the repository
/// (models/stories260k), so the tests of the basics always run. Everything else (other models, golden fixtures,
/// tokenizers, stories260k's goldens) is the read-only reference data in ../shared beside the repository, or in
/// $NL_SHARED; a test that needs it and does not find it is skipped with one reason (<see cref="MissingReason"/>).
/// Compiled into every test project (linked from tests/Shared).
/// </summary>
internal static class ReferenceData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The reference data folder: $NL_SHARED, else ../shared beside the repository (it may not exist).</summary>
    public static string SharedRoot { get; } = Path.GetFullPath(
        Environment.GetEnvironmentVariable("NL_SHARED") is { Length: > 0 } explicitRoot ? explicitRoot : Path.Combine(RepoRoot, "..", "shared"));

    public static bool SharedAvailable => Directory.Exists(SharedRoot);

    public static string MissingReason =>
        $"needs the reference data (../shared: models and golden fixtures), which is not at {SharedRoot} " +
        "(put it beside the repository or set NL_SHARED)";

    /// <summary>The repository's copy of the default model.</summary>
    public static string Stories260k { get; } = Path.Combine(RepoRoot, "models", "stories260k");

    /// <summary>The reference data folder, skipping the calling test when it is missing.</summary>
    public static string RequireShared()
    {
        Skip.IfNot(SharedAvailable, MissingReason);
        return SharedRoot;
    }

    /// <summary>
    /// A path under the reference data given by its parts ("models", "stories260k", "model.safetensors"). The
    /// stories260k model files come from the repository's copy; its goldens and everything else from ../shared.
    /// </summary>
    public static string Shared(params string[] parts)
    {
        if (parts.Length >= 2 && parts[0] == "models" && parts[1] == "stories260k" && (parts.Length == 2 || parts[2] != "golden"))
            return Path.Combine([Stories260k, .. parts[2..]]);
        return Path.Combine([RequireShared(), .. parts]);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeLayers.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find NativeLayers.sln above " + AppContext.BaseDirectory);
    }
}
