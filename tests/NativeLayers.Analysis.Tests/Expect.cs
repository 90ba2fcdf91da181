namespace NativeLayers.Analysis.Tests;

/// <summary>Comparisons against the spec's printed numbers.</summary>
internal static class Expect
{
    /// <summary>
    /// Agreement with a value the spec prints to <paramref name="digits"/> significant figures: |a − e| must be within
    /// half a unit in the last printed place (so never looser than ~5e-6 relative for 6 digits), or within
    /// <paramref name="relative"/>·|e|, whichever is larger.
    /// </summary>
    public static void Sig(double expected, double actual, int digits = 6, double relative = 1e-6)
    {
        double tol = relative * Math.Abs(expected);
        if (expected != 0)
        {
            double lastPlace = Math.Pow(10, Math.Floor(Math.Log10(Math.Abs(expected))) - (digits - 1));
            tol = Math.Max(tol, 0.5 * lastPlace * (1 + 1e-9));
        }
        else tol = Math.Max(tol, 1e-12);
        Assert.True(Math.Abs(actual - expected) <= tol, $"expected {expected} (±{tol:G3}), got {actual:R}");
    }

    public static void Sig(double[] expected, ReadOnlySpan<double> actual, int digits = 6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Sig(expected[i], actual[i], digits);
    }

    public static void Close(double expected, double actual, double tolerance) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance, $"expected {expected:R} ± {tolerance:G3}, got {actual:R}");
}
