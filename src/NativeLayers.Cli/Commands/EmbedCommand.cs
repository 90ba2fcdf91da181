using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using NativeLayers.Analysis.Embeddings;
using NativeLayers.Loading;
using NativeLayers.Runtime.Capture;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl embed`: sentence embeddings of a text file at any layer, pooled as the model's sentence-transformers config says.</summary>
public static class EmbedCommand
{
    private static readonly string[] Extensions = [".safetensors", ".npy", ".jsonl"];

    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var input = new Option<string>("--input", "-i") { Description = "Texts: one a line, or JSONL ({\"text\": ...} per line).", Required = true };
        var encodingErrors = CommonOptions.EncodingErrors();
        var layers = new Option<string?>("--layers") { Description = "Blocks whose output to embed from (0-3,-1, all); default: the model's output (the last block)." };
        var pooling = new Option<string>("--pooling") { Description = "mean, cls, last, or from-model (sentence-transformers' 1_Pooling; mean without one).", DefaultValueFactory = _ => "from-model" };
        var normalize = new Option<bool?>("--normalize") { Description = "L2-normalise each embedding (default: as the model's modules.json says)." };
        var batch = new Option<int>("--batch", "-b") { Description = "Texts per forward call.", DefaultValueFactory = _ => 32 }.AtLeast(1);
        var maxTokens = new Option<int>("--max-tokens") { Description = "Cut each text to this many tokens (0 = no limit).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var output = new Option<string>("--out", "-o") { Description = "Output: .safetensors (embeddings [n, d], or embeddings.{l} per block), .npy (one block) or .jsonl.", Required = true };
        var command = new Command("embed", "Sentence embeddings of every text at one or more blocks, in one pass per batch.")
            { model, threads, device, input, encodingErrors, layers, pooling, normalize, batch, maxTokens, output };
        command.SetAction(parse =>
        {
            string path = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", Extensions);
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var texts = PromptFile.Read(parse.GetValue(input)!, parse.GetValue(encodingErrors));
            int[]? blocks = parse.GetValue(layers) is { } text ? CommonOptions.Layers(text, m.Layers, "--layers") : null;
            if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) && blocks is { Length: > 1 })
                throw new NativeLayersException("--out .npy holds one block's embeddings; give one block in --layers, or write .safetensors or .jsonl.");
            var fromModel = SentencePooling.FromModel(m.Folder.Directory);
            var mode = parse.GetValue(pooling) == "from-model" ? fromModel?.Mode ?? PoolingMode.Mean : SentencePooling.Parse(parse.GetValue(pooling)!);
            var chosen = new SentencePooling(mode, parse.GetValue(normalize) ?? fromModel?.Normalize ?? false);
            var options = new EmbeddingOptions
            {
                Slots = blocks?.Select(b => b + 1).ToArray(),
                Pooling = chosen,
                BatchSize = parse.GetValue(batch),
                MaxTokens = parse.GetValue(maxTokens),
            };
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            var clock = Stopwatch.StartNew();
            IReadOnlyList<float[]> embeddings = [];
            console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"embedding {texts.Count} texts", maxValue: texts.Count);
                    embeddings = SentenceEmbeddings.Embed(m, texts, options, new SynchronousProgress<int>(done => task.Value = done));
                });
            clock.Stop();
            var labels = blocks ?? [m.Layers - 1];
            Write(path, embeddings, labels, texts.Count, m.Width);
            console.MarkupLine($"wrote {Markup.Escape(path)}: {texts.Count} × {m.Width} per block ({Markup.Escape(string.Join(",", labels))}), " +
                $"{mode.ToString().ToLowerInvariant()} pooling{(chosen.Normalize ? ", L2-normalised" : "")}; " +
                $"{texts.Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):N1} texts/s");
            return 0;
        });
        return command;
    }

    private static void Write(string path, IReadOnlyList<float[]> embeddings, int[] blocks, int count, int width)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            var tensors = embeddings.Select((e, k) => TensorData.FromFloats(blocks.Length == 1 ? "embeddings" : $"embeddings.{blocks[k]}", [count, width], e));
            SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["blocks"] = string.Join(",", blocks) });
            return;
        }
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            StagedFiles.Write(path, stream => NpyFile.Write(stream, embeddings[0], count, width));
            return;
        }
        var text = new StringBuilder();
        for (int k = 0; k < embeddings.Count; k++)
            for (int i = 0; i < count; i++)
            {
                text.Append("{\"index\": ").Append(i);
                if (embeddings.Count > 1) text.Append(", \"layer\": ").Append(blocks[k]);
                text.Append(", \"embedding\": [");
                for (int c = 0; c < width; c++)
                    text.Append(c == 0 ? "" : ", ").Append(embeddings[k][i * width + c].ToString("R", CultureInfo.InvariantCulture));
                text.Append("]}\n");
            }
        StagedFiles.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text.ToString())));
    }
}

/// <summary>NumPy's .npy format (version 1.0): a little-endian float32 C-order [rows, cols] array.</summary>
public static class NpyFile
{
    public static void Write(Stream stream, ReadOnlySpan<float> values, int rows, int cols)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
    }
}
