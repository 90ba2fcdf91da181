using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>
/// Every steering operation and token selection against a float64 reference computed from the unsteered stream: the
/// steered slot after block L must be the reference operation applied to the plain slot, row by row, on each backend
/// (the norm-relative operations run on host copies of the rows, the plain ones through the residual-add table).
/// </summary>
public class SteeringReferenceTests
{
    private static readonly int[] Prompt = [1, 403, 407, 261, 378, 276];
    private static readonly int[] Continuation = [270, 412, 300];
    private const int Layer = 2;

    private static float[] Vector(int width, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
    }

    private static double Norm(IEnumerable<double> x) => Math.Sqrt(x.Sum(v => v * v));

    /// <summary>The reference of each operation on one row, in float64.</summary>
    private static double[] Reference(SteeringOperation op, ReadOnlySpan<float> row)
    {
        var x = row.ToArray().Select(v => (double)v).ToArray();
        switch (op)
        {
            case AddVector add:
                double before = Norm(x), c = add.Coefficient;
                if (add.ScaleToResidualNorm) c *= before / Norm(add.Vector.Select(v => (double)v));
                var y = x.Select((v, i) => v + c * add.Vector[i]).ToArray();
                if (add.PreserveNorm)
                {
                    double after = Norm(y);
                    y = y.Select(v => v * before / after).ToArray();
                }
                return y;
            case ProjectOut ablate:
                double dot = x.Select((v, i) => v * ablate.Direction[i]).Sum(), uu = ablate.Direction.Sum(v => (double)v * v);
                return x.Select((v, i) => v - dot / uu * ablate.Direction[i]).ToArray();
            default:
                throw new ArgumentException(op.ToString());
        }
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.All)
            foreach (var op in new[] { "add", "scale-to-norm", "preserve-norm", "scale-and-preserve", "project-out" })
                data.Add(op, device);
        return data;
    }

    private static SteeringOperation Operation(string name, int width, TokenSelection tokens)
    {
        var hook = HookId.ResidPost(Layer);
        var v = Vector(width, 7);
        return name switch
        {
            "add" => new AddVector(hook, v, 2.5f, tokens),
            "scale-to-norm" => new AddVector(hook, v, 0.3f, tokens, ScaleToResidualNorm: true),
            "preserve-norm" => new AddVector(hook, v, 4f, tokens, PreserveNorm: true),
            "scale-and-preserve" => new AddVector(hook, v, 0.5f, tokens, ScaleToResidualNorm: true, PreserveNorm: true),
            _ => new ProjectOut(hook, v, tokens),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachOperationChangesTheSlotAsItsDefinitionSays(string name, string device)
    {
        using var model = TestDevices.Load(ReferenceData.Stories260k, device);
        int d = model.Width;
        var plain = model.Forward([Prompt]).Residual.Slot(Layer + 1).ToArray();
        var op = Operation(name, d, TokenSelection.All);
        var steered = model.Forward([Prompt], new ForwardOptions { Steering = new SteeringPlan().Add(op) }).Residual.Slot(Layer + 1).ToArray();
        for (int t = 0; t < Prompt.Length; t++)
            SharedData.AssertClose(Reference(op, plain.AsSpan(t * d, d)).Select(v => (float)v).ToArray(), steered.AsSpan(t * d, d), $"{name} row {t}", 1e-5f, 1e-5f);
        if (name == "project-out")
            for (int t = 0; t < Prompt.Length; t++)
                Assert.True(Math.Abs(steered.AsSpan(t * d, d).ToArray().Select((v, i) => (double)v * ((ProjectOut)op).Direction[i]).Sum()) < 1e-4);
    }

    public static TheoryData<string> Selections() => new("all", "prompt", "generated", "last", "first", "last-prompt", "from:4");

    /// <summary>
    /// A prompt run, then a continuation in a second call (its tokens count as generated): each selection steers exactly
    /// the positions its name says, in both calls, and leaves the others as they were.
    /// </summary>
    [Theory]
    [MemberData(nameof(Selections))]
    public void TokenSelectionsSteerExactlyTheirPositionsAcrossPromptAndContinuation(string selection)
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        int d = model.Width, promptLength = Prompt.Length, total = promptLength + Continuation.Length;
        var tokens = TokenSelection.Parse(selection);
        var op = Operation("scale-to-norm", d, tokens);
        (float[] First, float[] Second) Run(SteeringPlan? plan)
        {
            var sequence = model.NewSequence();
            var options = new ForwardOptions { Steering = plan };
            var first = model.Forward([sequence], [Prompt], options).Residual.Slot(Layer + 1).ToArray();
            var second = model.Forward([sequence], [Continuation], options).Residual.Slot(Layer + 1).ToArray();
            return (first, second);
        }
        var (plainFirst, _) = Run(null);
        var (steeredFirst, steeredSecond) = Run(new SteeringPlan().Add(op));
        bool Selected(int position, int callEnd) => selection switch
        {
            "all" => true,
            "prompt" => position < promptLength,
            "generated" => position >= promptLength,
            "last" => position == callEnd - 1,
            "first" => position == 0,
            "last-prompt" => position == promptLength - 1,
            _ => position >= 4,
        };
        for (int p = 0; p < promptLength; p++)
        {
            var expected = Selected(p, promptLength) ? Reference(op, plainFirst.AsSpan(p * d, d)).Select(v => (float)v).ToArray() : plainFirst.AsSpan(p * d, d).ToArray();
            SharedData.AssertClose(expected, steeredFirst.AsSpan(p * d, d), $"{selection}: prompt position {p}", 1e-5f, 1e-5f);
        }
        // The continuation's rows against their own value before the operation (the same cache, the call unsteered).
        var unsteeredContinuation = RunContinuationWithoutStepAt(model, op);
        for (int p = promptLength; p < total; p++)
        {
            var row = steeredSecond.AsSpan((p - promptLength) * d, d).ToArray();
            var baseRow = unsteeredContinuation.AsSpan((p - promptLength) * d, d);
            var expected = Selected(p, total) ? Reference(op, baseRow).Select(v => (float)v).ToArray() : baseRow.ToArray();
            SharedData.AssertClose(expected, row, $"{selection}: continuation position {p}", 1e-4f, 1e-4f);
        }
    }

    /// <summary>
    /// The continuation's slot after block L as it is before the operation there: the prompt run steered as in the test,
    /// then the continuation unsteered. The operation sits at the end of block L, so nothing the continuation computes up
    /// to that point (its rows, and the keys and values of blocks 0..L it attends over) depends on it.
    /// </summary>
    private static float[] RunContinuationWithoutStepAt(Transformer model, SteeringOperation op)
    {
        var sequence = model.NewSequence();
        model.Forward([sequence], [Prompt], new ForwardOptions { Steering = new SteeringPlan().Add(op) });
        // Only the continuation's own operation at slot L + 1 is left out; the cache it reads was built steered.
        return model.Forward([sequence], [Continuation], new ForwardOptions()).Residual.Slot(Layer + 1).ToArray();
    }
}
