using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>Inputs a library user can get wrong (hook names, token selections, resumed residuals, set rows), each refused
/// with a NativeLayersException that names the value and the valid range, before any op runs.</summary>
public sealed class RuntimeUserErrorTests
{
    private static string Refused(Action action) => Assert.Throws<NativeLayersException>(action).Message;

    [Fact]
    public void HookNamesThatAreNotHooksOrNotPerBlockAreRefused()
    {
        Assert.Equal(HookId.ResidPost(2), HookId.Parse("blocks.2.hook_resid_post", 5));
        Assert.Equal(HookId.ResidPost(4), HookId.Parse("blocks.-1.hook_resid_post", 5));
        Assert.Contains("'blocks.x.hook_resid_post' is not a hook name (expected hook_embed",
            Refused(() => HookId.Parse("blocks.x.hook_resid_post", 5)));
        Assert.Contains("'blocks.1.hook_embed': embed is not a per-block point.", Refused(() => HookId.Parse("blocks.1.hook_embed", 5)));
    }

    [Fact]
    public void TokenSelectionsAndRowChoicesNameWhatTheyAccept()
    {
        Assert.Equal("from:3", TokenSelection.Parse(" from:3 ").ToString());
        Assert.Equal("last-prompt", TokenSelection.Parse("last-prompt").ToString());
        Assert.Equal("last", TokenSelection.Parse("last").ToString());
        Assert.Contains("token selection 'from:-1' must be all, last, first, prompt, generated, last-prompt or from:P.", Refused(() => TokenSelection.Parse("from:-1")));
        Assert.True(TokenRows.Parse("first", "--position").OneRowPerSequence);
        Assert.False(TokenRows.Parse("tokens", "--position").OneRowPerSequence);
        Assert.Equal("--position must be tokens, pooled (mean), last or first, got 'middle'.", Refused(() => TokenRows.Parse("middle", "--position")));
    }

    [Fact]
    public void ResumingFromASlotChecksTheSlotAndTheResidualShape()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        int[] tokens = [1, 403, 407];
        Assert.Contains($"cannot resume from slot {model.Layers + 1}: this model has slots 0..{model.Layers}.",
            Refused(() => model.ForwardFrom(model.Layers + 1, [new float[tokens.Length * model.Width]], [tokens])));
        Assert.Contains($"the residual to resume from must hold [tokens, {model.Width}] values for each sequence.",
            Refused(() => model.ForwardFrom(1, [new float[tokens.Length * model.Width - 1]], [tokens])));
        Assert.Contains("the residual to resume from must hold",
            Refused(() => model.ForwardFrom(1, [new float[tokens.Length * model.Width], new float[tokens.Length * model.Width]], [tokens])));
    }

    [Fact]
    public void ForwardInputsAreCheckedBeforeAnyOpRuns()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var sequences = new[] { model.NewSequence(), model.NewSequence() };
        Assert.Contains("2 sequences but 1 token lists; give one token list per sequence.",
            Refused(() => model.Forward(sequences, [[1, 2]], LogitsMode.LastPerSequence)));
        Assert.Contains("outside the vocabulary", Refused(() => model.Forward([[1, model.VocabSize]])));
    }

    [Fact]
    public void SetRowsAreCheckedForShapePositionsAndFiniteValues()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        int d = model.Width;
        var hook = HookId.ResidPost(1);
        ForwardResult Run(int[] positions, float[] values) =>
            model.Forward([[1, 403, 407]], new ForwardOptions { Steering = new SteeringPlan().Set(hook, positions, values) });
        Assert.Contains($"setting 2 rows at {hook.Name} needs 2 × {d} values, got {d}.", Refused(() => Run([0, 1], new float[d])));
        Assert.Contains("positions must be distinct and ≥ 0.", Refused(() => Run([1, 1], new float[2 * d])));
        Assert.Contains("explicit token positions must be ≥ 0.", Refused(() => Run([-1], new float[d])));
        var nan = new float[d];
        nan[3] = float.NaN;
        Assert.Contains($"the values set at {hook.Name} contain NaN or infinity.", Refused(() => Run([0], nan)));
    }
}
