using NativeLayers.Loading;

namespace NativeLayers.Tests;

/// <summary>Locates ../shared beside the repository and compares tensors against goldens.</summary>
public static class SharedData
{
    public static string RepoRoot { get; } = FindRepoRoot();
    public static string Root { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Fixture(string name) => Path.Combine(Root, "fixtures", "golden", name);
    public static string Model(string name) => Path.Combine(Root, "models", name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeLayers.sln"))) return dir.FullName;
        throw new InvalidOperationException("cannot find NativeLayers.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>Asserts |a - b| ≤ atol + rtol·|b| elementwise, reporting the worst element.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what, float atol = 1e-4f, float rtol = 1e-4f)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        int worst = -1;
        float worstExcess = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            float excess = MathF.Abs(expected[i] - actual[i]) - (atol + rtol * MathF.Abs(expected[i]));
            if (!(excess <= 0) && (worst < 0 || excess > worstExcess || float.IsNaN(excess))) { worst = i; worstExcess = excess; }
        }
        Assert.True(worst < 0, worst < 0 ? "" : $"{what}: element {worst} is {actual[worst]}, expected {expected[worst]}");
    }

    public static int[][] Rows(long[] ids, long[] shape)
    {
        int b = (int)shape[0], t = (int)shape[1];
        return Enumerable.Range(0, b).Select(i => ids.Skip(i * t).Take(t).Select(x => (int)x).ToArray()).ToArray();
    }

    public static long[] ShapeOf(SafetensorsFile file, string name) => file.Get(name).Shape;
}
