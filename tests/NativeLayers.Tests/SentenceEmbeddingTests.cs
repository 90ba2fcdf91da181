using System.Text.Json;
using NativeLayers.Analysis.Embeddings;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Tests;

/// <summary>
/// Sentence embeddings on the real all-MiniLM-L6-v2 against ONNX Runtime's outputs of the original ONNX file
/// (reference_outputs.json): tokenisation, last_hidden_state, mean-pooled L2-normalised embeddings, alone and batched.
/// </summary>
public class SentenceEmbeddingTests
{
    private static string MiniLm => SharedData.Model("all-minilm-l6-v2");

    private sealed record Case(string Text, int[] Ids, float[] LastHiddenState, float[] Embedding);

    private static List<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(MiniLm, "reference_outputs.json")));
        static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => v.GetSingle()).ToArray();
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(c.GetProperty("text").GetString()!,
            c.GetProperty("input_ids").EnumerateArray().Select(v => v.GetInt32()).ToArray(),
            Floats(c.GetProperty("last_hidden_state")), Floats(c.GetProperty("sentence_embedding_mean_l2norm")))).ToList();
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * (double)b[i]; na += a[i] * (double)a[i]; nb += b[i] * (double)b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    [SkippableTheory]
    [MemberData(nameof(TestDevices.Devices), MemberType = typeof(TestDevices))]
    public void MiniLmMatchesOnnxRuntimeAloneAndInABatch(string device)
    {
        var cases = Cases();
        // ILGPU's CPU emulator runs a 384-wide BERT slowly: there two cases (alone and batched) stand for all four.
        if (device != TestDevices.Cpu) cases = cases.Take(2).ToList();
        using var model = TestDevices.Load(MiniLm, device);
        foreach (var c in cases)
        {
            Assert.Equal(c.Ids, model.Tokenizer.Encode(c.Text));
            var forward = model.Forward([c.Ids], LogitsMode.None);
            SharedData.AssertClose(c.LastHiddenState, forward.Residual.Slot(model.Layers), $"{c.Text}: last_hidden_state");
        }
        var alone = cases.Select(c => SentenceEmbeddings.Embed(model, [c.Text])[0]).ToArray();
        var batched = SentenceEmbeddings.Embed(model, cases.Select(c => c.Text).ToArray(), new EmbeddingOptions { BatchSize = 3 })[0];
        int d = model.Width;
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.True(1 - Cosine(cases[i].Embedding, alone[i]) < 1e-5, $"{cases[i].Text}: cosine {Cosine(cases[i].Embedding, alone[i])}");
            SharedData.AssertClose(cases[i].Embedding, alone[i], $"{cases[i].Text}: embedding", 1e-5f, 1e-5f);
            SharedData.AssertClose(alone[i], batched.AsSpan(i * d, d), $"{cases[i].Text}: batched = alone", 1e-5f, 1e-5f);
        }
    }

    [SkippableFact]
    public void ThePoolingComesFromTheSentenceTransformersConfig()
    {
        Assert.Equal(new SentencePooling(PoolingMode.Mean, Normalize: true), SentencePooling.FromModel(MiniLm));
        Assert.Null(SentencePooling.FromModel(ReferenceData.Stories260k));
    }

    [SkippableFact]
    public void EmbedWritesJsonlSafetensorsAndNpyPerBlock()
    {
        var cases = Cases();
        using var folder = new TempFolder();
        File.WriteAllLines(folder.File("texts.txt"), cases.Select(c => c.Text));
        var (code, output, err) = CliTests.Run("embed", "--model", MiniLm, "--input", folder.File("texts.txt"), "--out", folder.File("e.jsonl"));
        Assert.True(code == 0, err + output);
        var lines = File.ReadAllLines(folder.File("e.jsonl"));
        Assert.Equal(cases.Count, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            using var line = JsonDocument.Parse(lines[i]);
            Assert.Equal(i, line.RootElement.GetProperty("index").GetInt32());
            var embedding = line.RootElement.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            Assert.True(1 - Cosine(cases[i].Embedding, embedding) < 1e-5);
        }

        (code, _, err) = CliTests.Run("embed", "--model", MiniLm, "--input", folder.File("texts.txt"), "--layers", "2,-1", "--pooling", "cls", "--out", folder.File("e.safetensors"));
        Assert.True(code == 0, err);
        using (var file = SafetensorsFile.Open(folder.File("e.safetensors")))
        {
            Assert.Equal([cases.Count, 384L], file.Get("embeddings.2").Shape);
            Assert.Equal([cases.Count, 384L], file.Get("embeddings.5").Shape);
        }

        (code, _, err) = CliTests.Run("embed", "--model", MiniLm, "--input", folder.File("texts.txt"), "--out", folder.File("e.npy"));
        Assert.True(code == 0, err);
        var npy = File.ReadAllBytes(folder.File("e.npy"));
        int headerLength = BitConverter.ToUInt16(npy, 8);
        Assert.Contains($"'shape': ({cases.Count}, 384)", System.Text.Encoding.ASCII.GetString(npy, 10, headerLength));
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Equal(10 + headerLength + cases.Count * 384 * 4, npy.Length);

        (code, _, err) = CliTests.Run("embed", "--model", MiniLm, "--input", folder.File("texts.txt"), "--layers", "1,2", "--out", folder.File("two.npy"));
        Assert.Equal(1, code);
        Assert.Contains("one block", err);
    }
}
