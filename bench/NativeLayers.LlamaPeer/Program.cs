using System.Diagnostics;
using System.Globalization;
using NativeLayers.GgufConvert;
using NativeLayers.Loading;
using NativeLayers.LlamaPeer;
using NativeLayers.ModelGen;

// llama.cpp (LLamaSharp 0.30.0, CPU backend) and NativeLayers' CPU backend side by side in one process, on the same
// random model (nl-modelgen preset, converted to GGUF with nl-gguf), token ids fed directly. Repetitions alternate
// which engine goes first (ABAB); cells are medians.
//   dotnet run -c Release --project bench/NativeLayers.LlamaPeer -- [--preset llama-768] [--dtypes f32,f16,bf16]
//       [--reps 5] [--threads 2] [--prompt 16] [--steps 32] [--agree-steps 32]
var options = Options.Parse(args);
string preset = options.GetValueOrDefault("preset", "llama-768");
var dtypes = options.GetValueOrDefault("dtypes", "f32,f16,bf16").Split(',').Select(Options.DTypeOf).ToArray();
int reps = options.Int("reps", 5), threads = options.Int("threads", 2), promptTokens = options.Int("prompt", 16);
int steps = options.Int("steps", 32), agreeSteps = options.Int("agree-steps", 32);
const int ContextTokens = 1024;

Console.WriteLine($"uptime at start: {Uptime()}");
var spec = ModelSpec.Preset(preset);
var ceilings = InRunCeilings.Measure();
Console.WriteLine($"ceilings at start: read {ceilings.ReadBytesPerSecond / 1e9:F1} GB/s, FMA {ceilings.FlopsPerSecond / 1e9:F0} GFLOP/s ({Environment.ProcessorCount} threads)");
LlamaCppEngine.QuietNativeLog();

var rows = new List<(string DType, Figure Figure, double Llama, double Nl, double PairedRatio)>();
string? agreement = null;
foreach (var dtype in dtypes)
{
    string name = $"{spec.Id}-{dtype.Name().ToLowerInvariant()}-seed0";
    string folder = ModelGenerator.EnsureCached(Path.Combine(Options.CacheRoot, name), spec, dtype);
    var converted = LlamaGgufConverter.Convert(folder, Path.Combine(Options.CacheRoot, name + ".gguf"), Options.GgmlOf(dtype));
    Console.WriteLine($"{dtype}: {folder} → {converted.Path} ({converted.Bytes / 1e6:F0} MB)");
    using var llama = new LlamaCppEngine(converted.Path, threads, ContextTokens);
    if (dtype == dtypes[0]) Console.WriteLine($"llama.cpp system info: {LlamaCppEngine.SystemInfo()}");
    using var native = new NativeLayersEngine(folder, threads);
    if (dtype == DType.F32)
    {
        int[] prompt = TokenIds.Random(spec, promptTokens, seed: 100);
        int[] a = llama.Greedy(prompt, agreeSteps), b = native.Greedy(prompt, agreeSteps);
        int same = a.Zip(b).Count(p => p.First == p.Second);
        int firstDiff = Enumerable.Range(0, agreeSteps).FirstOrDefault(i => a[i] != b[i], -1);
        agreement = $"greedy agreement ({dtype}, {promptTokens}-token prompt, {agreeSteps} steps): {same}/{agreeSteps} tokens equal"
            + (firstDiff < 0 ? ", identical sequences" : $", first difference at step {firstDiff}")
            + $"\n  llama.cpp:    {string.Join(',', a)}\n  NativeLayers: {string.Join(',', b)}";
        Console.WriteLine(agreement);
    }
    Figure[] figures = [Figure.Prefill(spec, 128, seed: 1), Figure.Prefill(spec, 512, seed: 2), Figure.Decode(spec, dtype, promptTokens, steps, seed: 3)];
    foreach (var figure in figures) { figure.TokensPerSecond(llama); figure.TokensPerSecond(native); } // warm-up
    var samples = figures.ToDictionary(f => f, _ => (Llama: new List<double>(), Nl: new List<double>()));
    for (int rep = 0; rep < reps; rep++)
        foreach (var figure in figures)
        {
            IPeerEngine[] order = rep % 2 == 0 ? [llama, native] : [native, llama];
            foreach (var engine in order)
                (engine == llama ? samples[figure].Llama : samples[figure].Nl).Add(figure.TokensPerSecond(engine));
        }
    foreach (var figure in figures)
    {
        double l = Median(samples[figure].Llama), n = Median(samples[figure].Nl);
        Console.WriteLine($"  {figure.Name}: llama.cpp {l:F1} tok/s [{string.Join(", ", samples[figure].Llama.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)))}], "
            + $"NativeLayers {n:F1} tok/s [{string.Join(", ", samples[figure].Nl.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)))}]");
        // Each repetition's two runs are adjacent in time, so their ratio is less exposed to the shared machine's drift than the ratio of medians.
        double paired = Median(samples[figure].Nl.Zip(samples[figure].Llama, (a, b) => a / b).ToList());
        rows.Add((dtype.Name(), figure, l, n, paired));
    }
}

ceilings = ceilings.Best(InRunCeilings.Measure());
Console.WriteLine();
Console.WriteLine($"{spec.Id}, {threads} threads each, medians of {reps} alternating repetitions; ceilings (fastest of start and end): read {ceilings.ReadBytesPerSecond / 1e9:F1} GB/s, FMA {ceilings.FlopsPerSecond / 1e9:F0} GFLOP/s");
Console.WriteLine();
Console.WriteLine("| dtype | figure | llama.cpp tok/s | NativeLayers tok/s | NL ÷ llama.cpp | median of per-repetition NL ÷ llama.cpp | % of ceiling (llama.cpp / NL) |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---|");
foreach (var (dtype, figure, l, n, paired) in rows)
    Console.WriteLine($"| {dtype} | {figure.Name} | {l:F1} | {n:F1} | {n / l:F2} | {paired:F2} | {figure.Ceiling}: {100 * figure.FractionOfCeiling(l, ceilings):F0}% / {100 * figure.FractionOfCeiling(n, ceilings):F0}% |");
Console.WriteLine();
if (agreement != null) Console.WriteLine(agreement);
Console.WriteLine($"uptime at end: {Uptime()}");
return 0;

static double Median(List<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

static string Uptime()
{
    using var process = Process.Start(new ProcessStartInfo("uptime") { RedirectStandardOutput = true })!;
    string text = process.StandardOutput.ReadToEnd().Trim();
    process.WaitForExit();
    return text;
}
