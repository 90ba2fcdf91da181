using NativeLayers.Analysis.Evaluation;
using NativeLayers.Analysis.Lens;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Tests;

public class LensTests
{
    [Fact]
    public void LastSlotIsTheModelsOwnDistribution()
    {
        using var model = Transformer.Load(SharedModels.Stories260k);
        var tokens = model.Tokenizer.Encode("Once upon a time, there was a little");
        var forward = model.Forward([tokens], LogitsMode.All);
        var final = forward.LastLogits(0).ToArray().Select(v => (double)v).ToArray();
        int target = LogitLens.TopIndices(final, 3)[2]; // the model's third choice
        var report = LogitLens.Run(model, tokens, new LensOptions { TopK = 5, Target = target });
        Assert.Equal(model.Layers + 1, report.Readings.Count);
        var last = report.At(model.Layers, tokens.Length - 1);
        var probs = NextTokenDivergence.Softmax(final);
        var expectedTop = LogitLens.TopIndices(final, 5);
        Assert.Equal(expectedTop, last.Top.Select(t => t.Id).ToArray());
        for (int i = 0; i < 5; i++) Expect.Close(probs[expectedTop[i]], last.Top[i].Probability, 1e-6);
        Assert.Equal(3, last.TargetRank);
        Expect.Close(probs[target], last.TargetProbability!.Value, 1e-6);
        Expect.Close(0, last.KlFromFinal, 1e-9);
        Assert.All(report.Readings, r => Assert.True(r.KlFromFinal >= 0));
        Assert.Contains(report.Readings, r => r.Slot < model.Layers && r.KlFromFinal > 1e-3);
    }

    [Fact]
    public void TopIndicesAndRanks()
    {
        double[] v = [0.5, 3, -1, 3, 2];
        Assert.Equal([1, 3, 4], LogitLens.TopIndices(v, 3));
        Assert.Equal([1, 3, 4, 0, 2], LogitLens.TopIndices(v, 10));
    }

    [Fact]
    public void PositionsCanBeChosen()
    {
        using var model = Transformer.Load(SharedModels.Stories260k);
        var tokens = model.Tokenizer.Encode("The cat sat");
        var report = LogitLens.Run(model, tokens, new LensOptions { Slots = [0, 3], Positions = [0, -1], Target = tokens[1] });
        Assert.Equal(4, report.Readings.Count);
        Assert.All(report.Readings, r => Assert.InRange(r.TargetRank!.Value, 1, model.VocabSize));
    }
}
