using NativeLayers.Analysis.Segmentation;

namespace NativeLayers.Analysis.Tests;

public class SegmentationTests
{
    private static readonly double[] A = [0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.90, 0.86, 0.83, 0.81, 0.80, 0.80];
    private static readonly double[] B = [0.99, 0.98, 0.96, 0.95, 0.93, 0.85, 0.74, 0.64, 0.60, 0.58, 0.57, 0.57];

    [Fact]
    public void E16()
    {
        var seg = LayerSegmentation.Segment(A, B);
        Assert.Equal((1, 5), seg.Shared);
        Assert.Equal((6, 8), seg.Transition);
        Assert.Equal((9, 12), seg.Refinement);
        Expect.Sig([0, 0, 0.01, 0.01, 0.02, 0.08, 0.16, 0.22, 0.23, 0.23, 0.23, 0.23], seg.Gap);
    }

    [Fact]
    public void ParametersMoveTheBoundaries()
    {
        Assert.Equal(9, LayerSegmentation.Segment(A, B, new SegmentationOptions { TransitionFraction = 1 }).TransitionEnd);
        Assert.Equal(4, LayerSegmentation.Segment(A, B, new SegmentationOptions { SharedGap = 0.015 }).SharedEnd);
        Assert.Equal(0, LayerSegmentation.Segment(A, B, new SegmentationOptions { SharedThreshold = 0.995 }).SharedEnd);
    }

    [Fact]
    public void BootstrapOverTasksIsSeededAndCentredOnE16()
    {
        // Three tasks whose mean is E16: a per-task offset in b that cancels on average.
        int tasks = 3, layers = 12;
        var a = new double[tasks, layers];
        var b = new double[tasks, layers];
        double[] offsets = [-0.06, 0, 0.06];
        for (int t = 0; t < tasks; t++)
            for (int l = 0; l < layers; l++) { a[t, l] = A[l]; b[t, l] = B[l] + offsets[t]; }
        var result = LayerSegmentation.SegmentTasks(a, b, resamples: 200, seed: 11);
        Assert.Equal(5, result.Segments.SharedEnd);
        Assert.Equal(8, result.Segments.TransitionEnd);
        Assert.Equal(200, result.Bootstrap.SharedEndCounts.Values.Sum());
        Assert.InRange(result.Bootstrap.SharedEndMoved, 0.01, 0.99); // resampling tasks moves the boundary sometimes
        var again = LayerSegmentation.SegmentTasks(a, b, resamples: 200, seed: 11);
        Assert.Equal(result.Bootstrap.SharedEndCounts, again.Bootstrap.SharedEndCounts);
        Assert.Equal(result.Bootstrap.SharedEndMoved, again.Bootstrap.SharedEndMoved);
        // Identical tasks never move.
        var same = new double[2, layers];
        var sameB = new double[2, layers];
        for (int t = 0; t < 2; t++) for (int l = 0; l < layers; l++) { same[t, l] = A[l]; sameB[t, l] = B[l]; }
        var stable = LayerSegmentation.SegmentTasks(same, sameB, resamples: 50, seed: 1);
        Assert.Equal(0, stable.Bootstrap.SharedEndMoved);
        Assert.Equal(0, stable.Bootstrap.TransitionEndMoved);
    }
}
