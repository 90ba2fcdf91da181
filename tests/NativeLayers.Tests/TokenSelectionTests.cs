using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>The one token vocabulary: each selection keeps the positions it names, and bad ones say what is wrong.</summary>
public class TokenSelectionTests
{
    private static readonly int[][] Batch = [[1, 403, 407, 261, 378], [1, 317, 439]];

    [Fact]
    public void EachSelectionKeepsItsPositionsWithTheirRows()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var hook = HookId.ResidPost(2);
        var all = model.Forward(Batch).Residual;
        int d = model.Width;
        foreach (var (tokens, expected) in new (TokenSelection, int[][])[]
        {
            (TokenSelection.First, [[0], [0]]),
            (TokenSelection.Last, [[4], [2]]),
            (TokenSelection.StartingAt(2), [[2, 3, 4], [2]]),
            (TokenSelection.At([[3, 1], [2]]), [[1, 3], [2]]),
            (TokenSelection.Masked([[true, false, false, false, true], [false, true, false]]), [[0, 4], [1]]),
        })
        {
            var captured = Capturer.Run(model, Batch, new CapturePlan { Hooks = [hook], Tokens = tokens })[hook];
            Assert.Equal(expected.Select(p => p.Length), captured.RowsPerSequence);
            Assert.Equal(expected.SelectMany(p => p), captured.RowPositions);
            for (int s = 0, row = 0; s < Batch.Length; s++)
                foreach (int position in expected[s])
                    SharedData.AssertClose(all.SequenceSlot(3, s).Slice(position * d, d), captured.Row(row++), $"{tokens} sequence {s} position {position}", 0, 0);
        }
    }

    [Fact]
    public void SelectionsThatDoNotFitTheBatchAreNamed()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var plan = new CapturePlan { Hooks = [HookId.ResidPost(0)] };
        Assert.Contains("past its 3 tokens", Assert.Throws<NativeLayersException>(() => Capturer.Run(model, Batch, plan with { Tokens = TokenSelection.At([[0], [3]]) })).Message);
        Assert.Contains("one flag per token", Assert.Throws<NativeLayersException>(() => Capturer.Run(model, Batch, plan with { Tokens = TokenSelection.Masked([[true]]) })).Message);
        Assert.Contains("must be ≥ 0", Assert.Throws<NativeLayersException>(() => TokenSelection.At([[-1]])).Message);
        Assert.Contains("masks and explicit positions select captured tokens",
            Assert.Throws<NativeLayersException>(() => model.Forward(Batch, new ForwardOptions { Steering = new SteeringPlan().AddVector(0, new float[model.Width], 1f, tokens: TokenSelection.At([[0], [0]])) })).Message);
        Assert.Equal(TokenRows.MeanOfTokens, TokenRows.Parse("pooled", "--mode"));
        Assert.Contains("--mode must be tokens, pooled (mean), last or first, got 'sideways'",
            Assert.Throws<NativeLayersException>(() => TokenRows.Parse("sideways", "--mode")).Message);
    }

    [SkippableFact]
    public void InspectDescribesTheNewFamilies()
    {
        var (code, output, err) = CliTests.Run("inspect", "--model", SharedData.Fixture("gemma2"));
        Assert.True(code == 0, err);
        Assert.Contains("scores soft-capped at 10", output);
        Assert.Contains("0:local(4 keys", output);
        (code, output, err) = CliTests.Run("inspect", "--model", SharedData.Fixture("olmo2"));
        Assert.True(code == 0, err);
        Assert.Contains("q/k norms over the whole projection", output);
    }
}
