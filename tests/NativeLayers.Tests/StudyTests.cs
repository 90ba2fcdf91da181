using System.Text.Json;
using NativeLayers.Analysis.Studies;
using NativeLayers.Cli;
using NativeLayers.Loading;
using NativeLayers.ModelGen;

namespace NativeLayers.Tests;

/// <summary>`nl study ...` end to end on stories260k (and MiniLM where ../shared has it), and the report folder writer.</summary>
public sealed class StudyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nl-study-").FullName;
    private static string Stories => ReferenceData.Stories260k;
    private static string Sample(string name) => Path.Combine(ReferenceData.RepoRoot, "samples", name);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static JsonElement Results(string folder) => JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json"))).RootElement;

    private static double[] Numbers(JsonElement array) => array.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? double.NaN : v.GetDouble()).ToArray();

    private static void AssertReportFolder(string folder)
    {
        Assert.True(File.Exists(Path.Combine(folder, "report.md")));
        Assert.True(File.Exists(Path.Combine(folder, "results.json")));
        Assert.NotEmpty(Directory.GetFiles(folder, "*.png"));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Path.GetDirectoryName(folder)!), e => Path.GetFileName(e).StartsWith(Path.GetFileName(folder) + ".", StringComparison.Ordinal));
    }

    private static StudyReport Tiny(string answer, params StudyPlot[] plots) => new()
    {
        Study = "tiny",
        Title = "tiny report",
        WhatWasRun = ["nothing"],
        Settings = [("seed", "1")],
        Answers = [new StudyAnswer("what?", answer)],
        Plots = plots,
        Results = new { answer, value = double.NaN },
    };

    [Fact]
    public void TheReportWriterReplacesTheWholeFolderAndWritesNaNAsNull()
    {
        string folder = Path.Combine(_dir, "report");
        StudyReportWriter.Write(folder, Tiny("first", new StudyPlot("a.png", "a", [1, 2, 3])));
        StudyReportWriter.Write(folder, Tiny("second", new StudyPlot("b.png", "b", [4, 5])), StudyReportFormat.Html);
        Assert.False(File.Exists(Path.Combine(folder, "a.png")));
        Assert.True(File.Exists(Path.Combine(folder, "b.png")));
        Assert.Contains("second", File.ReadAllText(Path.Combine(folder, "report.md")));
        Assert.Contains("data:image/png;base64,BAU=", File.ReadAllText(Path.Combine(folder, "report.html")));
        var results = Results(folder);
        Assert.Equal("second", results.GetProperty("answer").GetString());
        Assert.Equal(JsonValueKind.Null, results.GetProperty("value").ValueKind);
        Assert.Single(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void AFailingReportLeavesThePreviousOneInPlace()
    {
        string folder = Path.Combine(_dir, "report");
        StudyReportWriter.Write(folder, Tiny("first"));
        Assert.Throws<NativeLayersException>(() => StudyReportWriter.Write(folder, Tiny("second", new StudyPlot("../x.png", "bad", [1]))));
        Assert.Contains("first", File.ReadAllText(Path.Combine(folder, "report.md")));
        Assert.Single(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void LayerQualityMetricsAreExactlyNlMetricsAndNameABestSlotPerMetricAndTask()
    {
        string study = Path.Combine(_dir, "lq"), metrics = Path.Combine(_dir, "metrics.json");
        var (code, output, err) = Run("study", "layer-quality", "--model", Stories, "--prompts", Sample("prompts.txt"), "--probe-data", Sample("probe.jsonl"), "--out", study);
        Assert.True(code == 0, err + output);
        AssertReportFolder(study);
        (code, output, err) = Run("metrics", "--model", Stories, "--prompts", Sample("prompts.txt"), "--out", metrics);
        Assert.True(code == 0, err + output);
        var expected = JsonDocument.Parse(File.ReadAllText(metrics)).RootElement.GetProperty("metrics");
        var results = Results(study);
        var actual = results.GetProperty("metrics");
        foreach (string name in new[] { "prompt_entropy", "dataset_entropy", "curvature", "effective_rank" })
            Assert.Equal(Numbers(expected.GetProperty(name)), Numbers(actual.GetProperty(name)));
        Assert.Equal(6, Numbers(actual.GetProperty("prompt_entropy")).Length);
        var best = results.GetProperty("best_slot");
        foreach (string name in new[] { "prompt_entropy", "dataset_entropy", "curvature", "effective_rank", "probe_accuracy" })
            Assert.InRange(best.GetProperty(name).GetInt32(), 0, 5);
        Assert.Equal(6, Numbers(results.GetProperty("probe_accuracy")).Length);
        string report = File.ReadAllText(Path.Combine(study, "report.md"));
        Assert.Contains("Does an intermediate layer beat the last?", report);
        Assert.Contains("gap", report);
    }

    [SkippableFact]
    public void LayerQualityRunsOnTheMiniLmEncoder()
    {
        string study = Path.Combine(_dir, "lq-minilm");
        var (code, output, err) = Run("study", "layer-quality", "--model", SharedData.Model("all-minilm-l6-v2"), "--prompts", Sample("prompts.txt"),
            "--probe-data", Sample("probe.jsonl"), "--sts-data", Sample("sts.jsonl"), "--out", study, "--format", "html");
        Assert.True(code == 0, err + output);
        AssertReportFolder(study);
        Assert.True(File.Exists(Path.Combine(study, "report.html")));
        var results = Results(study);
        Assert.Equal(7, Numbers(results.GetProperty("metrics").GetProperty("curvature")).Length);
        var sts = Numbers(results.GetProperty("sts_spearman"));
        Assert.Equal(7, sts.Length);
        Assert.True(sts[^1] > 0.7, $"a sentence encoder's last layer should rank the sample pairs well, Spearman {sts[^1]}");
        Assert.InRange(results.GetProperty("best_slot").GetProperty("retrieval_recall_at_1").GetInt32(), 0, 6);
    }

    private static double[][] Matrix(JsonElement e) => e.EnumerateArray().Select(Numbers).ToArray();

    [Fact]
    public void StitchingAModelIntoItselfCostsNothingOnTheDiagonal()
    {
        string study = Path.Combine(_dir, "stitch");
        var (code, output, err) = Run("study", "stitch", "--model", Stories, "--model-b", Stories, "--text", Sample("corpus.txt"), "--out", study);
        Assert.True(code == 0, err + output);
        AssertReportFolder(study);
        var results = Results(study);
        var penalty = Matrix(results.GetProperty("penalty"));
        var cka = Matrix(results.GetProperty("cka"));
        Assert.Equal(6, penalty.Length);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(6, penalty[i].Length);
            Assert.True(Math.Abs(penalty[i][i]) < 1e-3, $"penalty[{i}][{i}] = {penalty[i][i]}");
            Assert.Equal(1, cka[i][i], 6);
            Assert.True(penalty[i].All(p => p > -1e-3), $"row {i} has a negative penalty");
        }
        Assert.Equal(6, results.GetProperty("best_stitch_per_slot_a").GetArrayLength());
        Assert.Equal(6, Matrix(results.GetProperty("asymmetry")).Length);
    }

    private static (string Role, int First, int Last)[] Segments(JsonElement results) =>
        results.GetProperty("segments").EnumerateArray().Select(s => (s.GetProperty("role").GetString()!,
            s.GetProperty("layers")[0].GetInt32(), s.GetProperty("layers")[1].GetInt32())).ToArray();

    private static void AssertCoversEveryLayerOnce((string Role, int First, int Last)[] segments, int layers)
    {
        Assert.Equal(1, segments[0].First);
        Assert.Equal(layers, segments[^1].Last);
        for (int k = 1; k < segments.Length; k++) Assert.Equal(segments[k - 1].Last + 1, segments[k].First);
        Assert.All(segments, s => Assert.Contains(s.Role, new[] { "shared", "transition", "refinement" }));
    }

    private string TwoTasks()
    {
        string path = Path.Combine(_dir, "tasks.jsonl");
        var lines = File.ReadAllLines(Sample("probe.jsonl")).Where(l => l.Trim().Length > 0).ToArray();
        File.WriteAllLines(path, lines.Select((l, i) => l.TrimEnd().TrimEnd('}') + $", \"task\": \"{(i % 2 == 0 ? "even" : "odd")}\"}}"));
        return path;
    }

    [Fact]
    public void LayerRolesOfAModelAgainstItselfAreAllShared()
    {
        string study = Path.Combine(_dir, "roles");
        var (code, output, err) = Run("study", "layer-roles", "--model", Stories, "--model-b", Stories, "--data", TwoTasks(), "--out", study);
        Assert.True(code == 0, err + output);
        AssertReportFolder(study);
        var results = Results(study);
        var segments = Segments(results);
        AssertCoversEveryLayerOnce(segments, 5);
        Assert.Equal([("shared", 1, 5)], segments);
        Assert.Equal(2, results.GetProperty("tasks").GetArrayLength());
        Assert.Contains("§15", File.ReadAllText(Path.Combine(study, "report.md")));

        File.WriteAllText(Path.Combine(study, "stale.png"), "from an older run");
        (code, output, err) = Run("study", "layer-roles", "--model", Stories, "--model-b", Stories, "--data", TwoTasks(), "--out", study, "--format", "html");
        Assert.True(code == 0, err + output);
        AssertReportFolder(study);
        Assert.False(File.Exists(Path.Combine(study, "stale.png")), "a rerun replaces the whole folder");
        Assert.Contains("data:image/png;base64,", File.ReadAllText(Path.Combine(study, "report.html")));
    }

    [Fact]
    public void ARotatedResidualBasisHasCkaOneAndStitchesForFreeAtEveryLayer()
    {
        string rotated = Path.Combine(_dir, "rotated"), study = Path.Combine(_dir, "stitch-rotated");
        DerivedModels.RotateResidual(Stories, rotated, seed: 7);
        using (var original = SafetensorsFile.Open(Path.Combine(Stories, "model.safetensors")))
        using (var copy = SafetensorsFile.Open(Path.Combine(rotated, "model.safetensors")))
            Assert.NotEqual(original.ReadFloat32("model.embed_tokens.weight"), copy.ReadFloat32("model.embed_tokens.weight"));
        var (code, output, err) = Run("study", "stitch", "--model", Stories, "--model-b", rotated, "--text", Sample("corpus.txt"), "--out", study, "--one-way");
        Assert.True(code == 0, err + output);
        var results = Results(study);
        var penalty = Matrix(results.GetProperty("penalty"));
        var cka = Matrix(results.GetProperty("cka"));
        for (int i = 0; i < 6; i++)
        {
            Assert.True(Math.Abs(penalty[i][i]) < 1e-4, $"penalty[{i}][{i}] = {penalty[i][i]}");
            Assert.True(Math.Abs(cka[i][i] - 1) < 1e-4, $"CKA[{i}][{i}] = {cka[i][i]}");
        }
        Assert.Equal(results.GetProperty("loss_a").GetDouble(), results.GetProperty("loss_b").GetDouble(), 4);
    }

    [Fact]
    public void LayerRolesFindTheLowerLayersSharedWhenOnlyTheTopBlocksWereTuned()
    {
        string tuned = Path.Combine(_dir, "tuned"), study = Path.Combine(_dir, "roles-tuned");
        DerivedModels.TuneTopLayers(Stories, tuned, fromBlock: 3, noise: 0.5, seed: 3);
        var (code, output, err) = Run("study", "layer-roles", "--model", Stories, "--model-b", tuned, "--data", TwoTasks(), "--out", study);
        Assert.True(code == 0, err + output);
        var segments = Segments(Results(study));
        AssertCoversEveryLayerOnce(segments, 5);
        Assert.Equal(("shared", 1, 3), segments[0]); // blocks 0–2 untouched: slots 1–3 identical
        Assert.All(segments.Skip(1), s => Assert.NotEqual("shared", s.Role));
    }

    [Fact]
    public void InterpolationCheckpointsStartAndEndAtTheirEndpoints()
    {
        string tuned = Path.Combine(_dir, "tuned"), halfway = Path.Combine(_dir, "halfway"), start = Path.Combine(_dir, "start"), end = Path.Combine(_dir, "end");
        DerivedModels.TuneTopLayers(Stories, tuned, fromBlock: 4);
        DerivedModels.Interpolate(Stories, tuned, start, 0);
        DerivedModels.Interpolate(Stories, tuned, end, 1);
        DerivedModels.Interpolate(Stories, tuned, halfway, 0.5);
        const string name = "model.layers.4.mlp.down_proj.weight";
        float[] Read(string folder) { using var f = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors")); return f.ReadFloat32(name); }
        float[] a = Read(Stories), b = Read(tuned), mid = Read(halfway);
        Assert.Equal(a, Read(start));
        Assert.Equal(b, Read(end));
        for (int i = 0; i < a.Length; i++) Assert.Equal(0.5f * (a[i] + b[i]), mid[i], 1e-6f);
    }

    [Theory]
    [InlineData("ioi")]
    [InlineData("babi")]
    [InlineData("compare")]
    public void ReasoningSteerSweepsCoefficientsTimesLayersWithNoShiftAtZero(string task)
    {
        string study = Path.Combine(_dir, "steer-" + task);
        var (code, output, err) = Run("study", "reasoning-steer", "--model", Stories, "--task", task, "--questions", "12", "--coefficients", "-1,0,1", "--out", study);
        Assert.True(code == 0, err + output);
        AssertReportFolder(study);
        var results = Results(study);
        var accuracy = Matrix(results.GetProperty("accuracy"));
        var kl = Matrix(results.GetProperty("kl"));
        Assert.Equal(3, accuracy.Length);
        Assert.All(accuracy, row => Assert.Equal(5, row.Length));
        double unsteered = results.GetProperty("unsteered").GetProperty("accuracy").GetDouble();
        Assert.All(accuracy[1], a => Assert.Equal(unsteered, a));
        Assert.All(kl[1], k => Assert.Equal(0, k));
        Assert.All(kl[0].Concat(kl[2]), k => Assert.True(k > 0));
        Assert.Equal(6, results.GetProperty("questions").GetInt32());
    }

    [Fact]
    public void ReasoningSteerTakesTheUsersPairsAndQuestions()
    {
        string questions = Path.Combine(_dir, "mc.jsonl"), study = Path.Combine(_dir, "steer-own");
        File.WriteAllLines(questions,
        [
            """{"context": "Lily was happy. She", "choices": [" smiled", " cried"], "gold": 0}""",
            """{"context": "Tom was sad. He", "choices": [" laughed", " cried"], "gold": 1}""",
            """{"context": "The sun was", "choices": [" bright", " cold"], "gold": 0}""",
        ]);
        var (code, output, err) = Run("study", "reasoning-steer", "--model", Stories, "--task", questions, "--pairs", Sample("pairs.jsonl"), "--layers", "2-3", "--coefficients", "0,2", "--out", study);
        Assert.True(code == 0, err + output);
        var results = Results(study);
        Assert.Equal(3, results.GetProperty("questions").GetInt32());
        Assert.Equal(2, Matrix(results.GetProperty("accuracy"))[0].Length);
    }

    [Fact]
    public void PlasticityOfIdenticalCheckpointsGivesIdenticalVectorsAndEffects()
    {
        string tuned = Path.Combine(_dir, "tuned"), copy = Path.Combine(_dir, "copy"), study = Path.Combine(_dir, "plasticity");
        DerivedModels.TuneTopLayers(Stories, tuned, fromBlock: 3);
        DerivedModels.Interpolate(Stories, tuned, copy, 0);
        var (code, output, err) = Run("study", "plasticity", "--model", Stories, "--model", copy, "--model", tuned, "--pairs", Sample("pairs.jsonl"), "--out", study);
        Assert.True(code == 0, err + output);
        AssertReportFolder(study);
        var results = Results(study);
        var effect = Matrix(results.GetProperty("effect"));
        var cosine = Matrix(results.GetProperty("cosine"));
        Assert.Equal(3, effect.Length);
        Assert.Equal(1, cosine[0][1], 9);
        Assert.True(cosine[0][2] < 0.999, $"the tuned checkpoint's vector should differ, cosine {cosine[0][2]}");
        for (int j = 0; j < 3; j++) Assert.Equal(effect[0][j], effect[1][j], 9);
        Assert.True(File.Exists(Path.Combine(study, "timeline.png")));
    }

    [Fact]
    public void SpearmanGivesTiesTheirMeanRank()
    {
        Assert.Equal(1, SimilarityPairs.Spearman([1, 2, 3, 4], [10, 20, 30, 40]), 12);
        Assert.Equal(-1, SimilarityPairs.Spearman([1, 2, 3, 4], [4, 3, 2, 1]), 12);
        // ranks x = (1, 2.5, 2.5, 4), y = (1, 2, 3, 4): r = 4.5 / sqrt(4.5 · 5)
        Assert.Equal(4.5 / Math.Sqrt(4.5 * 5), SimilarityPairs.Spearman([1, 2, 2, 3], [1, 2, 3, 4]), 12);
    }

    [Fact]
    public void ChoiceScoresDoNotDependOnTheBatching()
    {
        using var model = NativeLayers.Runtime.Transformer.Load(Stories);
        var items = ChoiceTasks.Generate("babi", 7, seed: 5);
        var one = new ChoiceScoring(model, items) { QuestionsPerBatch = 1 }.Score(null);
        var all = new ChoiceScoring(model, items) { QuestionsPerBatch = 100 }.Score(null);
        Assert.Equal(one.Accuracy, all.Accuracy);
        Assert.Equal(one.GoldProbability, all.GoldProbability, 5);
        Assert.Equal(one.EntropyBitsMean, all.EntropyBitsMean, 5);
        Assert.Equal(0, one.KlMean);
    }

    [SkippableFact]
    public void LayerRolesFindTheLowerLayersOfMiniLmSharedWhenOnlyItsTopBlocksWereTuned()
    {
        string miniLm = SharedData.Model("all-minilm-l6-v2"), tuned = Path.Combine(_dir, "minilm-tuned"), study = Path.Combine(_dir, "roles-minilm");
        DerivedModels.TuneTopLayers(miniLm, tuned, fromBlock: 4, noise: 3, seed: 3); // post-LN BERT absorbs small perturbations
        Assert.True(File.Exists(Path.Combine(tuned, "1_Pooling", "config.json")));
        var (code, output, err) = Run("study", "layer-roles", "--model", miniLm, "--model-b", tuned, "--data", TwoTasks(), "--out", study);
        Assert.True(code == 0, err + output);
        var segments = Segments(Results(study));
        AssertCoversEveryLayerOnce(segments, 6);
        Assert.Equal(("shared", 1, 4), segments[0]);
        Assert.All(segments.Skip(1), s => Assert.NotEqual("shared", s.Role));
    }
}
