using NativeLayers.Loading;

namespace NativeLayers.Tests;

/// <summary>
/// Locates the test data (the repository's stories260k, or ../shared, see <see cref="ReferenceData"/>: a test reaching
/// for missing reference data is skipped) and compares tensors against goldens.
/// </summary>
public static class SharedData
{
    public static string RepoRoot => ReferenceData.RepoRoot;

    /// <summary>The reference data folder (skips the test when it is missing).</summary>
    public static string Root => ReferenceData.RequireShared();

    public static string Fixture(string name) => ReferenceData.Shared("fixtures", "golden", name);

    /// <summary>A model folder: stories260k from the repository, the others from ../shared.</summary>
    public static string Model(string name) => ReferenceData.Shared("models", name);

    /// <summary>The golden outputs of a model in ../shared (stories260k's are not in the repository).</summary>
    public static string Golden(string model) => ReferenceData.Shared("models", model, "golden");

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
