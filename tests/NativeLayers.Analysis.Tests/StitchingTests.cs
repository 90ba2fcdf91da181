using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Stitching;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Tests;

/// <summary>The repository's copy of the default model (models/stories260k), and texts for it.</summary>
internal static class SharedModels
{
    public static string Stories260k => ReferenceData.Stories260k;

    public static readonly string[] Texts =
    [
        "Once upon a time, there was a little girl named Lily. She loved to play outside.",
        "One day, a big dog came to the park. The dog was very happy and wanted to play.",
        "Tom had a red ball. He threw the ball to his friend and they laughed together.",
        "The sun was bright and the sky was blue. The birds sang in the tall green tree.",
        "Mom made a cake for the party. Everyone was happy and ate the sweet cake.",
        "The cat sat on the mat and looked at the fish in the bowl. It wanted to eat it.",
        "Ben went to the store with his dad. They bought milk, bread and some apples.",
        "Sara found a shiny stone in the garden. She showed it to her brother Max.",
    ];
}

public class StitchingTests
{
    private static readonly Matrix X = Matrix.FromRows([1, 0], [0, 1], [1, 1], [2, 1], [1, 2], [0, 0]);
    private static readonly Matrix Y = Matrix.FromRows([1, 2, 0], [0, 1, 1], [1, 3, 1], [3, 5, 1], [1, 4, 2], [0, 0.5, 0]);

    [Fact]
    public void LeastSquares_E13()
    {
        var map = AffineStitch.Fit(X, Y, lambda: 0);
        Expect.Sig([1.43182, 1.88636, 0], map.W.Row(0), 6);
        Expect.Sig([-0.0681818, 0.886364, 1], map.W.Row(1), 6);
        Expect.Sig([-0.136364, 0.272727, 0], map.Bias, 6);
        var fit = map.Evaluate(X, Y);
        Expect.Sig(0.0252525, fit.Mse);
        Expect.Sig([0.943182, 0.992528, 1], fit.R2PerDimension);
    }

    [Fact]
    public void Ridge_E13()
    {
        var map = AffineStitch.Fit(X, Y, lambda: 1);
        Expect.Sig([1.03571, 1.42262, 0.0595238], map.W.Row(0));
        Expect.Sig([0.0357143, 0.755952, 0.726190], map.W.Row(1));
        Expect.Sig([0.107143, 0.767857, 0.178571], map.Bias);
        Assert.Equal(1, map.Lambda);
        // The default rule: 1e-6 · tr(X_cᵀX_c) / d_A.
        var xc = X.CenterRows();
        Expect.Close(1e-6 * xc.Data.Sum(v => v * v) / 2, AffineStitch.Fit(X, Y).Lambda, 1e-18);
    }

    [Fact]
    public void SingularFitWithoutRidgeIsAClearError()
    {
        var x = Matrix.FromRows([1, 0], [2, 0], [3, 0], [4, 0]); // a constant column: X_cᵀX_c is singular
        Assert.Throws<NativeLayersException>(() => AffineStitch.Fit(x, Matrix.FromRows([1], [2], [3], [5]), 0));
    }

    [Fact]
    public void StitchingAModelToItselfAtTheSameSlotCostsNothing()
    {
        using var a = Transformer.Load(SharedModels.Stories260k);
        using var b = Transformer.Load(SharedModels.Stories260k);
        var report = StitchingExperiment.Run(a, b, SharedModels.Texts,
            new StitchingOptions { SlotsA = [2, 5], SlotsB = [2, 5], Ridge = 0, HeldOutFraction = 0.25 });
        Assert.Equal(6, report.TrainTexts);
        Assert.Equal(2, report.HeldOutTexts);
        foreach (int s in new[] { 2, 5 })
        {
            var cell = report.Cell(s, s);
            Assert.True(Math.Abs(cell.Penalty) < 1e-4, $"slot {s}: penalty {cell.Penalty}");
            Assert.True(cell.InSample.MeanR2 > 0.999999, $"R² {cell.InSample.MeanR2}");
            Assert.True(cell.HeldOut.Mse < 1e-8 * (1 + cell.InSample.Mse), $"held-out MSE {cell.HeldOut.Mse}");
        }
        Assert.Equal(report.LossA, report.LossB);
        Assert.True(report.LossB > 0 && report.LossB < 10);
        // Skipping blocks (slot 2 of A written as B's slot 5) costs something.
        Assert.True(report.Cell(2, 5).Penalty > 0.01);
        Assert.Equal(2, report.PenaltyMatrix().GetLength(0));
    }
}
