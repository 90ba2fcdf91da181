using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.ModelGen;
using NativeLayers.Runtime;
using NativeLayers.Serving;

// A bounded load generator for nl serve, loopback only: it starts the server in-process on 127.0.0.1 (a free port)
// over a random model (nl-modelgen preset, default llama-768) and sends a fixed number of /v1/completions requests
// at each concurrency, unsteered, steered (each request its own vector at every layer, by registry name or inline) and capturing the last
// token's residual at every layer. Every request samples (temperature 0.8, its own seed). Tokens/s counts generated tokens over the wall time of a level.
//   dotnet run -c Release --project bench/NativeLayers.LoadGen -- [--preset llama-768] [--concurrency 1,8,32] [--requests-per-slot 2] [--max-tokens 16] [--prompt-tokens 16] [--rounds 5]
var options = Args(args);
string preset = options.GetValueOrDefault("preset", "llama-768");
int[] levels = options.GetValueOrDefault("concurrency", "1,8,32").Split(',').Select(int.Parse).ToArray();
int perSlot = int.Parse(options.GetValueOrDefault("requests-per-slot", "2"), CultureInfo.InvariantCulture);
int maxTokens = int.Parse(options.GetValueOrDefault("max-tokens", "16"), CultureInfo.InvariantCulture);
int promptTokens = int.Parse(options.GetValueOrDefault("prompt-tokens", "16"), CultureInfo.InvariantCulture);
int rounds = int.Parse(options.GetValueOrDefault("rounds", "5"), CultureInfo.InvariantCulture);

var spec = ModelSpec.Preset(preset);
string cache = Environment.GetEnvironmentVariable("NL_BENCH_MODELS") is { Length: > 0 } root ? root : Path.Combine(Path.GetTempPath(), "nativelayers-bench");
string dir = ModelGenerator.EnsureCached(Path.Combine(cache, $"{spec.Id}-f32-seed0"), spec, DType.F32);
using var model = Transformer.Load(dir);
await using var server = await OpenAiServer.StartAsync(model, new ServerOptions
{
    Port = 0, Engine = new NativeLayers.Runtime.Serving.EngineOptions { MaxBatch = levels.Max() },
    Limits = new RequestLimits { MaxCaptureValues = 1L << 28, MaxBodyBytes = 64L << 20 },
});
using var http = new HttpClient { BaseAddress = new Uri(server.Url), Timeout = TimeSpan.FromMinutes(10) };
Console.Error.WriteLine($"{preset}: {model.Layers} layers, width {model.Width}, {Environment.ProcessorCount} cores; server at {server.Url}");

// The steered requests name vector sets registered once up front (one vector per layer each, 64 different sets), as a
// deployment would; steered-inline sends the same vectors as floats in every request body (JSON parsing included).
float[] SteeringVector(int set, int layer)
{
    var random = new Random(1_000_003 * set + layer);
    return Enumerable.Range(0, model.Width).Select(_ => (float)(random.NextDouble() - 0.5) * 0.01f).ToArray();
}
const int VectorSets = 64;
for (int set = 0; set < VectorSets; set++)
{
    var layersObject = Enumerable.Range(0, model.Layers).ToDictionary(l => l.ToString(CultureInfo.InvariantCulture), l => SteeringVector(set, l));
    using var registered = await http.PostAsync("/v1/steering_vectors", new StringContent(JsonSerializer.Serialize(new { name = $"set{set}", layers = layersObject }), Encoding.UTF8, "application/json"));
    if (!registered.IsSuccessStatusCode) throw new InvalidOperationException($"registering set{set}: {(int)registered.StatusCode} {await registered.Content.ReadAsStringAsync()}");
}

string Body(int request, string mode)
{
    var random = new Random(request);
    var body = new Dictionary<string, object>
    {
        ["prompt"] = Enumerable.Range(0, promptTokens).Select(_ => random.Next(3, model.VocabSize)).ToArray(),
        ["max_tokens"] = maxTokens, ["temperature"] = 0.8, ["seed"] = request, ["ignore_eos"] = true,
    };
    if (mode == "steered") body["steering"] = new[] { new { vector = $"set{request % VectorSets}", coefficient = 1.0 } };
    if (mode == "steered-inline")
        body["steering"] = Enumerable.Range(0, model.Layers).Select(layer => new
        {
            vector = SteeringVector(request % VectorSets, layer), layers = new[] { layer }, coefficient = 1.0,
        }).ToArray();
    if (mode == "capture") body["capture"] = new { points = new[] { "resid_post" }, layers = "all", positions = "last", reduce = "last", format = "base64-f16" };
    return JsonSerializer.Serialize(body);
}

async Task<(double Seconds, List<double> Latencies)> Level(int concurrency, string mode)
{
    int total = concurrency * perSlot, next = 0;
    var bodies = Enumerable.Range(0, total).Select(i => Body(i, mode)).ToArray();
    var latencies = new List<double>();
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        for (int i; (i = Interlocked.Increment(ref next) - 1) < total;)
        {
            var started = clock.Elapsed;
            using var response = await http.PostAsync("/v1/completions", new StringContent(bodies[i], Encoding.UTF8, "application/json"));
            string text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{(int)response.StatusCode}: {text}");
            lock (latencies) latencies.Add((clock.Elapsed - started).TotalSeconds);
        }
    }));
    return (clock.Elapsed.TotalSeconds, latencies);
}

static double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

await Level(1, "plain"); // warm-up: touches every weight page before the first timed level
// Rounds interleave the modes (the order rotates every round) so a shared machine's drift hits each mode alike;
// each cell is the median over rounds, and the ratios are medians of the per-round ratios.
string[] modes = ["plain", "steered", "steered-inline", "capture"];
var rates = new Dictionary<(int, string), List<double>>();
var latencyByCell = new Dictionary<(int, string), List<double>>();
for (int round = 0; round < rounds; round++)
    foreach (int concurrency in levels)
        for (int m = 0; m < modes.Length; m++)
        {
            string mode = modes[(m + round) % modes.Length];
            var (seconds, latencies) = await Level(concurrency, mode);
            double rate = latencies.Count * maxTokens / seconds;
            (rates.TryGetValue((concurrency, mode), out var list) ? list : rates[(concurrency, mode)] = []).Add(rate);
            (latencyByCell.TryGetValue((concurrency, mode), out var all) ? all : latencyByCell[(concurrency, mode)] = []).AddRange(latencies);
            Console.Error.WriteLine($"round {round + 1}/{rounds}  concurrency {concurrency,2}  {mode,-7}  {rate,7:F1} tokens/s");
        }
static double Median(IEnumerable<double> values) => Percentile(values.ToList(), 0.5);
var table = new StringBuilder($"| concurrency | mode | requests × rounds | tokens/s (median of {rounds}) | min–max | p50 latency (s) | p99 latency (s) |\n|---|---|---|---|---|---|---|\n");
foreach (int concurrency in levels)
    foreach (var mode in modes)
    {
        var r = rates[(concurrency, mode)];
        var l = latencyByCell[(concurrency, mode)];
        table.AppendLine($"| {concurrency} | {mode} | {l.Count / rounds} × {rounds} | {Median(r):F1} | {r.Min():F1}–{r.Max():F1} | {Percentile(l, 0.5):F3} | {Percentile(l, 0.99):F3} |");
    }
Console.WriteLine(table);
double PairedRatio(int concurrency, string mode) => Median(rates[(concurrency, mode)].Zip(rates[(concurrency, "plain")], (a, b) => a / b));
foreach (int concurrency in levels)
    Console.WriteLine($"concurrency {concurrency}: steered/plain {PairedRatio(concurrency, "steered"):F3}×, steered-inline/plain {PairedRatio(concurrency, "steered-inline"):F3}×, capture/plain {PairedRatio(concurrency, "capture"):F3}× (medians of per-round ratios)");
Console.WriteLine($"plain batched {levels.Max()} / batch 1: {Median(rates[(levels.Max(), "plain")].Zip(rates[(levels.Min(), "plain")], (a, b) => a / b)):F2}×");

static Dictionary<string, string> Args(string[] args)
{
    var options = new Dictionary<string, string>();
    for (int i = 0; i + 1 < args.Length; i += 2)
        options[args[i].TrimStart('-')] = args[i + 1];
    return options;
}
