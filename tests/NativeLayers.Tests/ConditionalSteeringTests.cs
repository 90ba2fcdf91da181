using NativeLayers.Analysis.Steering;
using NativeLayers.Cli;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Tests;

/// <summary>Conditional activation steering (CAST): the similarity rule, per-sequence gating in one batch, and the threshold search.</summary>
public class ConditionalSteeringTests
{
    private static float[] Vector(int width, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, width).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
    }

    [Fact]
    public void SimilarityIsTheCosineOfTheRowAndItsSquashedProjection()
    {
        const int width = 5;
        float[] v = [1, -2, 0.5f, 0, 3];
        float[] rows = [0.2f, 0.1f, -0.4f, 1, 2, -1, 0.3f, 0.3f, 0.5f, -2];
        double[] Mean() => Enumerable.Range(0, width).Select(i => (rows[i] + (double)rows[width + i]) / 2).ToArray();
        double Reference(double[] h)
        {
            double vh = h.Zip(v, (a, b) => a * b).Sum(), vv = v.Sum(x => (double)x * x);
            var p = v.Select(x => Math.Tanh(x * vh / vv)).ToArray();
            return h.Zip(p, (a, b) => a * b).Sum() / Math.Sqrt(h.Sum(a => a * a) * p.Sum(a => a * a));
        }
        Assert.Equal(Reference(Mean()), SteeringCondition.Similarity(rows, width, v, ConditionReduction.Mean), 12);
        Assert.Equal(Reference(rows[width..].Select(x => (double)x).ToArray()), SteeringCondition.Similarity(rows, width, v, ConditionReduction.Last), 12);
        var condition = new SteeringCondition(v, 0, 0.25);
        Assert.True(condition.Holds(0.3));
        Assert.False(condition.Holds(0.2));
        Assert.True((condition with { Compare = ConditionComparison.Less }).Holds(0.2));
    }

    [Fact]
    public void AConditionThatNeverOrAlwaysHoldsGivesTheUnsteeredOrSteeredGenerationPerSequence()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        int[][] prompts = [model.Tokenizer.Encode("Once upon a time, there was a cat"), model.Tokenizer.Encode("Tom went to the park")];
        var plan = new SteeringPlan().AddVector(2, Vector(model.Width, 4), 6f);
        var options = new GenerationOptions { MaxNewTokens = 10, StopTokens = [] };
        var plain = new Generator(model).Generate(prompts, options);
        var steered = new Generator(model).Generate(prompts, options with { Steering = plan });
        Assert.NotEqual(plain[0].NewIds, steered[0].NewIds);

        var condition = new SteeringCondition(Vector(model.Width, 9), 1, 0);
        var similarities = condition.Similarities(model, prompts);
        // A threshold between the two prompts' similarities: one is steered, the other not, in the same batch.
        double between = (similarities[0] + similarities[1]) / 2;
        var gate = condition with { Threshold = between, Compare = similarities[0] > similarities[1] ? ConditionComparison.Greater : ConditionComparison.Less };
        var gated = new Generator(model).Generate(prompts, options with { PromptSteering = similarities.Select(s => gate.Holds(s) ? plan : null).ToArray() });
        Assert.Equal(steered[0].NewIds, gated[0].NewIds);
        Assert.Equal(plain[1].NewIds, gated[1].NewIds);

        var never = condition with { Threshold = 2 };
        Assert.All(similarities, s => Assert.False(never.Holds(s)));
        var always = condition with { Threshold = -2 };
        Assert.All(similarities, s => Assert.True(always.Holds(s)));
    }

    [Fact]
    public void GenerateWithAConditionSteersOnlyWhenItHolds()
    {
        using var folder = new TempFolder();
        using var model = Transformer.Load(ReferenceData.Stories260k);
        var set = new SteeringVectorSet(model.Width);
        set.Set(2, Vector(model.Width, 4));
        string file = folder.File("v.safetensors");
        SafetensorsSteeringFile.Write(file, set);
        string Run(params string[] extra)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int code = CliApp.Run(["generate", "--prompt", "Once upon a time", "-n", "8", .. extra], output, error);
            Assert.True(code == 0, error.ToString());
            return output.ToString();
        }
        string plain = Run(), steered = Run("--steer", file + "@2*6");
        Assert.NotEqual(plain, steered);
        Assert.Equal(steered, Run("--steer", file + "@2*6", "--condition", file + "@2", "--threshold", "-2"));
        Assert.Equal(plain, Run("--steer", file + "@2*6", "--condition", file + "@2", "--threshold", "2"));
        Assert.Equal(plain, Run("--steer", file + "@2*6", "--condition", file + "@2", "--threshold", "-2", "--condition-compare", "less"));

        var error = new StringWriter();
        Assert.Equal(1, CliApp.Run(["generate", "--prompt", "Hi", "--condition", file + "@2", "--threshold", "0"], new StringWriter(), error));
        Assert.Contains("give --steer", error.ToString());
    }

    [Fact]
    public void TheSearchFindsTheThresholdThatSeparatesTheLabels()
    {
        using var model = Transformer.Load(ReferenceData.Stories260k);
        string[] texts = ["The dog ran in the park.", "A cat sat on the mat.", "The bird sang a song.", "Mom made a cake.", "He ate bread and jam.", "She drank warm milk."];
        bool[] animal = [true, true, true, false, false, false];
        var prompts = texts.Select(t => model.Tokenizer.Encode(t)).ToList();
        var set = new SteeringVectorSet(model.Width);
        set.Set(1, Vector(model.Width, 1));
        set.Set(3, Vector(model.Width, 2));
        var result = ConditionSearch.Run(model, set, prompts, animal, [1, 3]);
        foreach (var c in result.PerLayer)
        {
            Assert.Equal(prompts.Count, c.Total);
            // The confusion matrix is what the chosen threshold does to the similarities.
            var condition = new SteeringCondition([], c.Layer, c.Threshold, c.Compare);
            var holds = result.Similarities[c.Layer].Select(condition.Holds).ToArray();
            Assert.Equal(Enumerable.Range(0, 6).Count(i => holds[i] && animal[i]), c.TruePositives);
            Assert.Equal(Enumerable.Range(0, 6).Count(i => holds[i] && !animal[i]), c.FalsePositives);
            Assert.True(c.F1 >= 2.0 * 3 / (2 * 3 + 3)); // at least as good as steering every prompt
        }
        Assert.Equal(result.PerLayer.Max(c => c.F1), result.Best.F1);
    }
}
