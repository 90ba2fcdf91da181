using System.Text.Json;
using NativeLayers.Cli;

namespace NativeLayers.Tests;

/// <summary>`nl compare`, `nl stitch`, `nl probe` and `nl lens` end to end on stories260k, in process.</summary>
public sealed class AnalysisCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nl-analysis-cli-").FullName;
    private static string Model => SharedData.Model("stories260k");

    private static readonly string[] Stories =
    [
        "Once upon a time, there was a little girl named Lily.",
        "One day, a big dog came to the park to play.",
        "Tom had a red ball and he threw it to his friend.",
        "The sun was bright and the sky was blue.",
        "Mom made a cake for the party and everyone was happy.",
        "The cat sat on the mat and looked at the fish.",
        "Ben went to the store with his dad to buy milk.",
        "Sara found a shiny stone in the garden.",
    ];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private string Write(string name, IEnumerable<string> lines)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [SkippableFact]
    public void CompareAModelWithItselfGivesASymmetricMatrixWithAUnitDiagonal()
    {
        string prompts = Write("prompts.txt", Stories);
        string json = Path.Combine(_dir, "cka.json"), png = Path.Combine(_dir, "cka.png");
        var (code, output, err) = Run("compare", "--model", Model, "--prompts", prompts, "--out", json, "--plot", png);
        Assert.True(code == 0, err + output);
        Assert.Contains("similarity", output);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var values = doc.RootElement.GetProperty("values").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        Assert.Equal(6, values.Length); // 5 blocks: slots 0..5
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(1, values[i][i], 9);
            for (int j = 0; j < 6; j++) Assert.Equal(values[i][j], values[j][i], 12);
        }
        Assert.Equal(8, doc.RootElement.GetProperty("n").GetInt32());
        Assert.True(File.Exists(Path.ChangeExtension(json, ".csv")));
        Assert.True(new FileInfo(png).Length > 1000);
    }

    [SkippableFact]
    public void CompareTwoCheckpointsTokenLevelWithEveryMethod()
    {
        string prompts = Write("prompts.jsonl", Stories.Select(s => JsonSerializer.Serialize(new { text = s })));
        foreach (var method in new[] { "linear", "rbf", "debiased", "svcca" })
        {
            string json = Path.Combine(_dir, $"{method}.json");
            var (code, output, err) = Run("compare", "--model", Model, "--model-b", SharedData.Model("stories260k-f16"), "--prompts", prompts,
                "--mode", "tokens", "--method", method, "--out", json);
            Assert.True(code == 0, method + ": " + err + output);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            Assert.True(doc.RootElement.GetProperty("n").GetInt32() > 64);
            // f16 weights: the same model up to rounding, so the diagonal is ~1.
            var values = doc.RootElement.GetProperty("values");
            for (int i = 0; i < 6; i++) Assert.True(values[i][i].GetDouble() > 0.99, $"{method} slot {i}: {values[i][i]}");
        }
        // PWCCA needs n > p + q: 8 pooled prompts against width 64 is refused with one error line.
        var (bad, _, error) = Run("compare", "--model", Model, "--prompts", prompts, "--method", "pwcca", "--out", Path.Combine(_dir, "p.json"));
        Assert.Equal(CliApp.UserError, bad);
        Assert.StartsWith("error:", error);
    }

    [SkippableFact]
    public void StitchIntoItselfHasNoPenaltyOnTheDiagonal()
    {
        string texts = Write("texts.txt", Stories);
        string json = Path.Combine(_dir, "stitch.json"), png = Path.Combine(_dir, "stitch.png");
        var (code, output, err) = Run("stitch", "--model", Model, "--text", texts, "--slots-a", "1,3", "--slots-b", "1,3", "--ridge", "0",
            "--out", json, "--plot", png);
        Assert.True(code == 0, err + output);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var penalty = doc.RootElement.GetProperty("penalty");
        Assert.True(Math.Abs(penalty[0][0].GetDouble()) < 1e-3);
        Assert.True(Math.Abs(penalty[1][1].GetDouble()) < 1e-3);
        Assert.Equal(4, doc.RootElement.GetProperty("cells").GetArrayLength());
        Assert.True(File.Exists(Path.ChangeExtension(json, ".csv")));
        Assert.True(new FileInfo(png).Length > 1000);
    }

    [SkippableFact]
    public void StitchRefusesModelsWithDifferentTokenizers()
    {
        string texts = Write("texts.txt", Stories);
        var (code, _, err) = Run("stitch", "--model", Model, "--model-b", SharedData.Fixture("qwen2"), "--text", texts, "--out", Path.Combine(_dir, "s.json"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("tokenizer", err);
    }

    [SkippableFact]
    public void ProbeReportsEveryLayer()
    {
        string[] animals = ["cat", "dog", "bird", "fish", "frog", "bear"];
        string[] food = ["cake", "apple", "bread", "milk", "soup", "pie"];
        var lines = animals.SelectMany(a => new[] { new { text = $"The {a} ran in the park.", label = "animal" }, new { text = $"A little {a} slept.", label = "animal" } })
            .Concat(food.SelectMany(f => new[] { new { text = $"Mom made {f} for lunch.", label = "food" }, new { text = $"They ate the {f}.", label = "food" } }))
            .Select(o => JsonSerializer.Serialize(o));
        string data = Write("probe.jsonl", lines);
        string json = Path.Combine(_dir, "probe.json"), png = Path.Combine(_dir, "probe.png");
        var (code, output, err) = Run("probe", "--model", Model, "--data", data, "--seed", "3", "--out", json, "--plot", png);
        Assert.True(code == 0, err + output);
        Assert.Contains("held-out", output);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(6, doc.RootElement.GetProperty("layers").GetArrayLength());
        Assert.Equal(6, doc.RootElement.GetProperty("held_out_indices").GetArrayLength());
        Assert.True(new FileInfo(png).Length > 1000);
        // Same seed, same numbers.
        string again = Path.Combine(_dir, "probe2.json");
        Assert.Equal(0, Run("probe", "--model", Model, "--data", data, "--seed", "3", "--out", again).Code);
        Assert.Equal(doc.RootElement.GetProperty("layers").GetRawText(), JsonDocument.Parse(File.ReadAllText(again)).RootElement.GetProperty("layers").GetRawText());
    }

    [SkippableFact]
    public void LensTracksATargetAndEndsAtTheModelsOutput()
    {
        string json = Path.Combine(_dir, "lens.json"), png = Path.Combine(_dir, "lens.png");
        var (code, output, err) = Run("lens", "--model", Model, "--prompt", "Once upon a time, there was a little", "--target", "girl",
            "--top-k", "3", "--out", json, "--plot", png);
        Assert.True(code == 0, err + output);
        Assert.Contains("logit lens", output);
        Assert.Contains("tracking the first", output); // "girl" is three tokens in this 512-piece vocabulary
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var readings = doc.RootElement.GetProperty("readings");
        Assert.Equal(6, readings.GetArrayLength());
        var last = readings[5];
        Assert.Equal(0, last.GetProperty("kl_from_final").GetDouble(), 9);
        Assert.True(last.GetProperty("target_rank").GetInt32() >= 1);
        Assert.Equal(3, last.GetProperty("top").GetArrayLength());
        Assert.True(new FileInfo(png).Length > 1000);
    }
}
