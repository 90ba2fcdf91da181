using NativeLayers.Runtime;

namespace NativeLayers.Serving.Tests;

/// <summary>The repository's stories260k, loaded once for a test class.</summary>
public sealed class ModelFixture : IDisposable
{
    public Transformer Model { get; } = Transformer.Load(ReferenceData.Stories260k, new RuntimeOptions { Threads = 2 });

    public void Dispose() => Model.Dispose();
}

internal static class Vectors
{
    public static float[] Random(int width, int seed)
    {
        var random = new System.Random(seed);
        return Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }
}
