using NativeLayers.Analysis.Linalg;
using NativeLayers.Analysis.Probes;
using NativeLayers.Runtime;

namespace NativeLayers.Analysis.Tests;

public class ProbesTests
{
    /// <summary>Three Gaussian clusters in 8 dimensions, well apart, with a large constant offset and mixed feature scales.</summary>
    private static (Matrix X, int[] Y) Clusters(int perClass, int seed, double separation = 4)
    {
        var rng = new ProbeSplit.SplitMix64((ulong)seed);
        int d = 8, c = 3;
        var x = new Matrix(perClass * c, d);
        var y = new int[perClass * c];
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = i % c;
            for (int k = 0; k < d; k++)
            {
                double g = Gaussian(rng);
                double centre = k == y[i] ? separation : 0;
                x[i, k] = (centre + g) * (k + 1) * 10 + 500;
            }
        }
        return (x, y);
    }

    private static double Gaussian(ProbeSplit.SplitMix64 rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Fact]
    public void SeparableClassesAreProbedAlmostPerfectly()
    {
        var (x, y) = Clusters(100, 1);
        var (train, held) = ProbeSplit.Stratified(y, 0.25, 7);
        var probe = LogisticProbe.Train(LayerProbingRows(x, train), train.Select(i => y[i]).ToArray(), 3);
        Assert.True(probe.Converged, $"{probe.Iterations} iterations, objective {probe.Objective}");
        double acc = probe.Accuracy(LayerProbingRows(x, held), held.Select(i => y[i]).ToArray());
        Assert.True(acc >= 0.97, $"held-out accuracy {acc}");
    }

    [Fact]
    public void ShuffledLabelsGiveChance()
    {
        var (x, y) = Clusters(200, 2);
        var rng = new ProbeSplit.SplitMix64(99);
        for (int i = y.Length - 1; i > 0; i--)
        {
            int j = (int)(rng.Next() % (ulong)(i + 1));
            (y[i], y[j]) = (y[j], y[i]);
        }
        var report = LayerProbing.Run([x], [0], y.Select(v => $"c{v}").ToArray(), new LayerProbeOptions { HeldOutFraction = 0.5, Seed = 3 });
        double acc = report.Layers[0].HeldOutAccuracy;
        Assert.InRange(acc, 1 / 3.0 - 0.08, 1 / 3.0 + 0.08);
        Assert.Equal(["c0", "c1", "c2"], report.Classes);
    }

    [Fact]
    public void SplitAndProbeAreReproducibleWithASeed()
    {
        var (x, y) = Clusters(30, 3, separation: 0.7);
        var labels = y.Select(v => v.ToString()).ToArray();
        var options = new LayerProbeOptions { Seed = 42 };
        var first = LayerProbing.Run([x], [0], labels, options);
        var second = LayerProbing.Run([x], [0], labels, options);
        Assert.Equal(first.HeldOutIndices, second.HeldOutIndices);
        Assert.Equal(first.Layers[0], second.Layers[0]);
        var other = LayerProbing.Run([x], [0], labels, options with { Seed = 43 });
        Assert.NotEqual(first.HeldOutIndices, other.HeldOutIndices);
        // Stratified: 25 % of each class of 30.
        Assert.Equal(24, first.HeldOutIndices.Length);
        foreach (int c in new[] { 0, 1, 2 }) Assert.Equal(8, first.HeldOutIndices.Count(i => y[i] == c));
        var p1 = LogisticProbe.Train(x, y, 3);
        var p2 = LogisticProbe.Train(x, y, 3);
        Assert.Equal(p1.Weights.Data, p2.Weights.Data);
    }

    [Fact]
    public void ProbesEveryLayerOfAModel()
    {
        using var model = Transformer.Load(SharedModels.Stories260k);
        var data = new List<LabelledText>();
        string[] animals = ["cat", "dog", "bird", "fish", "frog", "bear"];
        string[] food = ["cake", "apple", "bread", "milk", "soup", "pie"];
        foreach (var a in animals) { data.Add(new($"The {a} ran in the park.", "animal")); data.Add(new($"A little {a} was sleeping.", "animal")); }
        foreach (var f in food) { data.Add(new($"Mom made some {f} for lunch.", "food")); data.Add(new($"They ate the {f} at home.", "food")); }
        var report = LayerProbing.Run(model, data, new LayerProbeOptions { Seed = 5 });
        Assert.Equal(model.Layers + 1, report.Layers.Count);
        Assert.Equal(6, report.HeldOutIndices.Length);
        // Accuracy is a count of the 6 held-out texts, and the nouns separate animals from food at some layer.
        Assert.All(report.Layers, l => Assert.Equal(0, l.HeldOutAccuracy * 6 % 1, 9));
        Assert.True(report.Layers.Max(l => l.HeldOutAccuracy) > report.MajorityBaseline, $"best held-out accuracy {report.Layers.Max(l => l.HeldOutAccuracy)}");
        Assert.All(report.Layers, l => Assert.True(l.TrainAccuracy >= report.MajorityBaseline));
    }

    private static Matrix LayerProbingRows(Matrix m, int[] rows)
    {
        var r = new Matrix(rows.Length, m.Cols);
        for (int i = 0; i < rows.Length; i++) m.Row(rows[i]).CopyTo(r.Row(i));
        return r;
    }
}
