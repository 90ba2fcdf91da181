namespace NativeLayers.Analysis.Linalg;

/// <summary>The eigenvalue clamping rule of §0.2.</summary>
public static class Spectrum
{
    /// <summary>Eigenvalues below this fraction of the largest one are round-off and become 0.</summary>
    public const double RelativeCutoff = 1e-12;

    /// <summary>
    /// Returns a copy of <paramref name="eigenvalues"/> in which every value below <c>1e-12·λmax</c> (so every negative
    /// value too) is 0. When λmax ≤ 0 the whole spectrum is 0. Non-finite values are rejected by the caller's solver.
    /// </summary>
    public static double[] Clamp(ReadOnlySpan<double> eigenvalues)
    {
        var result = eigenvalues.ToArray();
        ClampInPlace(result);
        return result;
    }

    public static void ClampInPlace(Span<double> eigenvalues)
    {
        double max = 0;
        foreach (double v in eigenvalues) if (v > max) max = v;
        double cutoff = RelativeCutoff * max;
        for (int i = 0; i < eigenvalues.Length; i++)
            if (max <= 0 || eigenvalues[i] < cutoff) eigenvalues[i] = 0;
    }
}
