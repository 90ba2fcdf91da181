using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace NativeLayers.Tests;

/// <summary>
/// Every model command against randomly corrupted model folders and input files, for a bounded time: each run either
/// works (exit 0) or is one clear `error:` line with exit 1, never a stack trace, a crash or a hang.
/// </summary>
public sealed class CliFuzzTests
{
    private static readonly string[] Commands =
    [
        "inspect --model {model} --tensors",
        "tokenize --model {model} --text {text}",
        "generate --model {model} --prompt-file {prompt} --max-tokens 3",
        "hidden --model {model} --prompt-file {prompt} --out {dir}/h.safetensors",
        "lens --model {model} --prompt-file {prompt}",
        "capture --model {model} --input {prompts} --points resid_post --layers 0,-1 --out {dir}/capture",
        "metrics --model {model} --prompts {prompts} --metrics prompt-entropy,effective-rank --out {dir}/m.json",
        "compare --model {model} --prompts {prompts} --out {dir}/c.json",
        "probe --model {model} --data {probe} --out {dir}/p.json",
        "vector extract --model {model} --pairs {pairs} --out {dir}/v.safetensors",
        "steer sweep --model {model} --vector {vector} --layers 2 --coefficients -2,2 --prompt {text}",
        "bench --model {model} --prompt-tokens 4 --gen-tokens 2 -r 1",
        "study layer-quality --model {model} --prompts {prompts} --probe-data {probe} --out {dir}/lq",
        "study layer-roles --model {model} --model-b {model} --data {probe} --bootstrap 10 --out {dir}/lr",
        "study plasticity --model {model} --model {model} --pairs {pairs} --out {dir}/pl",
    ];

    private delegate void Corruption(Random random, string folder);

    /// <summary>What a user's folder may really look like: truncated downloads, bit rot, hand edits gone wrong, wrong encodings.</summary>
    private static readonly (string Name, Corruption Apply)[] Corruptions =
    [
        ("config.json truncated", (r, f) => Truncate(r, Path.Combine(f, "model", "config.json"))),
        ("config.json bytes flipped", (r, f) => Flip(r, Path.Combine(f, "model", "config.json"), 3)),
        ("config.json field replaced", (r, f) => ReplaceField(r, Path.Combine(f, "model", "config.json"))),
        ("config.json field removed", (r, f) => RemoveField(r, Path.Combine(f, "model", "config.json"))),
        ("tokenizer.model truncated", (r, f) => Truncate(r, Path.Combine(f, "model", "tokenizer.model"))),
        ("tokenizer.model bytes flipped", (r, f) => Flip(r, Path.Combine(f, "model", "tokenizer.model"), 8)),
        ("model.safetensors header bytes flipped", (r, f) => FlipWithin(r, Path.Combine(f, "model", "model.safetensors"), 0, 400, 2)),
        ("model.safetensors truncated", (r, f) => Truncate(r, Path.Combine(f, "model", "model.safetensors"))),
        ("prompt files with invalid UTF-8", (r, f) =>
        {
            foreach (var name in new[] { "prompt.txt", "prompts.txt", "pairs.jsonl", "probe.jsonl" }) Flip(r, Path.Combine(f, name), 2, invalidUtf8: true);
        }),
        ("prompt files emptied", (r, f) =>
        {
            foreach (var name in new[] { "prompt.txt", "prompts.txt", "pairs.jsonl", "probe.jsonl" }) File.WriteAllBytes(Path.Combine(f, name), []);
        }),
        ("pairs and probe data malformed", (r, f) =>
        {
            Flip(r, Path.Combine(f, "pairs.jsonl"), 4);
            Flip(r, Path.Combine(f, "probe.jsonl"), 4);
        }),
    ];

    private static readonly string[] FieldValues = ["-1", "0", "1e999", "\"text\"", "null", "[]", "{}", "2147483648", "-2147483649", "0.5", "1e308", "true"];

    private static void Truncate(Random random, string path)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..random.Next(bytes.Length)]);
    }

    private static void Flip(Random random, string path, int count, bool invalidUtf8 = false) =>
        FlipWithin(random, path, 0, int.MaxValue, count, invalidUtf8);

    private static void FlipWithin(Random random, string path, int from, int to, int count, bool invalidUtf8 = false)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) return;
        for (int i = 0; i < count; i++)
        {
            int at = random.Next(from, Math.Min(to, bytes.Length));
            bytes[at] = invalidUtf8 ? (byte)(0xC0 | random.Next(0x40) & 0x1F | 0x02) : (byte)random.Next(256);
            if (invalidUtf8 && at + 1 < bytes.Length) bytes[at + 1] = (byte)'(';
        }
        File.WriteAllBytes(path, bytes);
    }

    private static void ReplaceField(Random random, string path)
    {
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var names = config.Select(p => p.Key).ToArray();
        config[names[random.Next(names.Length)]] = JsonNode.Parse(FieldValues[random.Next(FieldValues.Length)]);
        File.WriteAllText(path, config.ToJsonString());
    }

    private static void RemoveField(Random random, string path)
    {
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config.Remove(config.Select(p => p.Key).ElementAt(random.Next(config.Count)));
        File.WriteAllText(path, config.ToJsonString());
    }

    /// <summary>A fresh folder: a copy of stories260k and every input file the commands read.</summary>
    private static TempFolder Inputs()
    {
        var folder = new TempFolder();
        string model = Directory.CreateDirectory(folder.File("model")).FullName;
        foreach (var file in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.model" })
            File.Copy(Path.Combine(SharedData.Model("stories260k"), file), Path.Combine(model, file));
        File.WriteAllText(folder.File("prompt.txt"), "Once upon a time, there was a little girl named Lily.");
        File.WriteAllLines(folder.File("prompts.txt"), CliRobustnessTests.Prompts);
        File.WriteAllLines(folder.File("pairs.jsonl"), CliRobustnessTests.Pairs());
        File.WriteAllLines(folder.File("probe.jsonl"), CliRobustnessTests.ProbeExamples());
        return folder;
    }

    [SkippableFact]
    public void EveryCommandOnCorruptedInputsWorksOrSaysWhatIsWrong()
    {
        // A vector for `steer sweep`, extracted once from the clean model.
        using var clean = Inputs();
        string vector = clean.File("v.safetensors");
        var (made, _, madeErr) = CliTests.Run("vector", "extract", "--model", clean.File("model"), "--pairs", clean.File("pairs.jsonl"), "--out", vector);
        Assert.True(made == 0, madeErr);

        var random = new Random(2026);
        var clock = Stopwatch.StartNew();
        var failures = new StringBuilder();
        int runs = 0, errors = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && runs < 2000)
        {
            using var folder = Inputs();
            var (name, corrupt) = Corruptions[random.Next(Corruptions.Length)];
            corrupt(random, folder.Path);
            foreach (var template in Commands.OrderBy(_ => random.Next()).Take(4))
            {
                var args = template.Split(' ').Select(a => a
                    .Replace("{model}", folder.File("model")).Replace("{dir}", folder.Path).Replace("{prompt}", folder.File("prompt.txt"))
                    .Replace("{prompts}", folder.File("prompts.txt")).Replace("{pairs}", folder.File("pairs.jsonl"))
                    .Replace("{probe}", folder.File("probe.jsonl")).Replace("{vector}", vector).Replace("{text}", "Once")).ToArray();
                var (code, _, err) = CliTests.Run(args);
                runs++;
                if (code == 0) continue;
                errors++;
                var lines = err.TrimEnd().Split('\n');
                if (code != 1 || lines.Length != 1 || !lines[0].StartsWith("error: ") || err.Contains("   at "))
                    failures.AppendLine($"[{name}] nl {string.Join(' ', args)}\n  exit {code}: {err.TrimEnd()}");
            }
        }
        Assert.True(failures.Length == 0, failures.ToString());
        Assert.True(runs >= 40, $"only {runs} runs in the time budget");
        Assert.True(errors > runs / 4, $"only {errors} of {runs} corrupted runs failed: the corruptions are too weak to test anything");
    }
}
