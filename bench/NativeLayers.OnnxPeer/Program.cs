using System.Diagnostics;
using NativeLayers.Analysis.Embeddings;
using NativeLayers.OnnxPeer;
using NativeLayers.Runtime;

// nl embed's library path (SentenceEmbeddings, CPU backend) against ONNX Runtime on the ONNX file the model was converted
// from, in one process: same texts, same tokenizer, interleaved rounds, medians. See bench/README.md.
var settings = PeerSettings.Parse(args);
int threads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount;
string onnx = MiniLmOnnxFile.Extract(Path.Combine(Path.GetTempPath(), "nativelayers-bench"));

using var model = Transformer.Load(settings.Model, new RuntimeOptions { Threads = threads });
using var ort = new OrtEmbedder(onnx, threads);
var texts = FixedLengthTexts.Make(model.Tokenizer, settings.Texts, settings.Tokens);

float[] NativeLayers(int batch) => SentenceEmbeddings.Embed(model, texts, new EmbeddingOptions { BatchSize = batch })[0];
float[] OnnxRuntime(int batch)
{
    var result = new float[texts.Length * ort.Width];
    for (int start = 0; start < texts.Length; start += batch)
    {
        // Tokenised here with the same tokenizer, so both sides pay for it.
        var ids = texts.Skip(start).Take(batch).Select(t => model.Tokenizer.Encode(t)).ToArray();
        ort.Embed(ids).CopyTo(result.AsSpan(start * ort.Width));
    }
    return result;
}

Console.WriteLine($"{texts.Length} texts of {settings.Tokens} tokens, {threads} threads, {settings.Rounds} rounds; ONNX: {onnx}");
var agreement = settings.Batches.ToDictionary(b => b, b => Agreement.MinCosine(NativeLayers(b), OnnxRuntime(b), ort.Width));
var seconds = settings.Batches.SelectMany(b => new[] { (b, "nl"), (b, "ort") }).ToDictionary(k => k, _ => new List<double>());
for (int round = 0; round < settings.Rounds; round++)
    foreach (int batch in settings.Batches)
    {
        // Alternate which side goes first, so a drift in the shared machine's speed hits both alike.
        var order = round % 2 == 0 ? new[] { "nl", "ort" } : ["ort", "nl"];
        foreach (string side in order)
        {
            var clock = Stopwatch.StartNew();
            _ = side == "nl" ? NativeLayers(batch) : OnnxRuntime(batch);
            seconds[(batch, side)].Add(clock.Elapsed.TotalSeconds);
        }
    }

Console.WriteLine();
Console.WriteLine("| batch | NativeLayers sentences/s | NativeLayers tokens/s | ONNX Runtime sentences/s | ONNX Runtime tokens/s | NL / ORT | min cosine NL vs ORT |");
Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|");
foreach (int batch in settings.Batches)
{
    double nl = texts.Length / Median(seconds[(batch, "nl")]), peer = texts.Length / Median(seconds[(batch, "ort")]);
    Console.WriteLine($"| {batch} | {nl:F1} | {nl * settings.Tokens:F0} | {peer:F1} | {peer * settings.Tokens:F0} | {nl / peer:F3} | {agreement[batch]:F7} |");
}
return agreement.Values.All(c => c >= 0.99999) ? 0 : 1;

static double Median(List<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}
