using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Capture;

public sealed record DatasetCaptureOptions
{
    /// <summary>Prompts per forward call.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Prompts per shard file: bounds memory (one shard's rows are held at a time) and the work a resume redoes.</summary>
    public int PromptsPerShard { get; init; } = 256;
    /// <summary>F32, F16 or BF16 on disk.</summary>
    public DType DType { get; init; } = DType.F32;
}

public sealed record CaptureProgress(int PromptsDone, int PromptsTotal, long TokensDone, int ShardsDone, int ShardsTotal, int ShardsSkipped);

/// <summary>What a capture directory holds (manifest.json).</summary>
public sealed record CaptureManifest(string Directory, int PromptCount, long TotalTokens, long TotalRows, IReadOnlyList<string> ShardFiles, int ShardsSkipped);

/// <summary>
/// Streams a prompt set through batched forwards into safetensors shards: one tensor per hook point named as the
/// hook ([rows, d_model]), plus prompt_index and position per row and token_counts per prompt. A manifest records
/// the settings and the finished shards, so an interrupted run resumes at the first missing shard.
/// </summary>
public static class DatasetCapture
{
    public const string ManifestName = "manifest.json";
    public const string Format = "nativelayers-capture/1";

    public static CaptureManifest Run(Transformer model, IReadOnlyList<int[]> prompts, CapturePlan plan, string directory,
        DatasetCaptureOptions? options = null, IProgress<CaptureProgress>? progress = null, CancellationToken cancel = default)
    {
        options ??= new DatasetCaptureOptions();
        if (options.BatchSize < 1 || options.PromptsPerShard < 1)
            throw new NativeLayersException("batch size and prompts per shard must be at least 1.");
        if (options.DType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new NativeLayersException($"captures are stored as F32, F16 or BF16, not {options.DType}.");
        if (plan.Tokens.Kind is TokenSelectionKind.Mask or TokenSelectionKind.Explicit)
            throw new NativeLayersException("dataset capture selects tokens by rule (all, last, first, ...); masks and explicit positions are for in-memory captures.");
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i].Length == 0) throw new NativeLayersException($"prompt {i} has no tokens.");
        Directory.CreateDirectory(directory);
        using var folderLock = CaptureFolderLock.Take(directory);
        RemoveStaleTemporaries(directory);
        string manifestPath = Path.Combine(directory, ManifestName);
        string fingerprint = Fingerprint(model, prompts, plan, options);
        int shardCount = (prompts.Count + options.PromptsPerShard - 1) / options.PromptsPerShard;
        var header = ManifestHeader(model, prompts.Count, plan, options, fingerprint);
        var shards = CaptureManifestFile.ReadShards(manifestPath, fingerprint)
            .Where(p => p.Key < shardCount && IsIntact(directory, p.Value, plan, model.Width))
            .ToDictionary(p => p.Key, p => p.Value);
        int skipped = shards.Count;
        long tokensDone = shards.Values.Sum(s => s.Tokens);

        for (int shard = 0; shard < shardCount; shard++)
        {
            int first = shard * options.PromptsPerShard, count = Math.Min(options.PromptsPerShard, prompts.Count - first);
            if (shards.ContainsKey(shard))
            {
                progress?.Report(new CaptureProgress(first + count, prompts.Count, tokensDone, shard + 1, shardCount, skipped));
                continue;
            }
            cancel.ThrowIfCancellationRequested();
            var entry = WriteShard(model, prompts, plan, directory, options, shard, first, count, done =>
                progress?.Report(new CaptureProgress(first + done, prompts.Count, tokensDone, shard, shardCount, skipped)), cancel);
            tokensDone += entry.Tokens;
            shards[shard] = entry;
            WriteManifest(manifestPath, header, shards, shardCount);
            progress?.Report(new CaptureProgress(first + count, prompts.Count, tokensDone, shard + 1, shardCount, skipped));
        }
        WriteManifest(manifestPath, header, shards, shardCount);
        return new CaptureManifest(directory, prompts.Count, tokensDone, shards.Values.Sum(s => s.Rows),
            shards.OrderBy(p => p.Key).Select(p => p.Value.File).ToList(), skipped);
    }

    /// <summary>Temporary files a killed writer left (only one writer holds the folder, so none is in use).</summary>
    private static void RemoveStaleTemporaries(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory, "*.tmp"))
            if (Path.GetFileName(file).StartsWith("shard-") || Path.GetFileName(file).StartsWith(ManifestName + "."))
                File.Delete(file);
    }

    /// <summary>A recorded shard is kept only when its size, checksum, tensors and row counts are what the manifest says.</summary>
    private static bool IsIntact(string directory, ShardEntry entry, CapturePlan plan, int width)
    {
        string path = Path.Combine(directory, entry.File);
        if (!File.Exists(path) || new FileInfo(path).Length != entry.Bytes || ShardEntry.Checksum(path) != entry.Sha256) return false;
        try
        {
            using var file = SafetensorsFile.Open(path);
            return plan.Hooks.All(h => file.TryGet(h.Name, out var t) && t.Shape.SequenceEqual([entry.Rows, width]))
                && file.TryGet("prompt_index", out var rows) && rows.Shape.SequenceEqual([entry.Rows])
                && file.TryGet("token_counts", out var counts) && counts.Shape.SequenceEqual([(long)entry.Prompts]);
        }
        catch (ModelFileException)
        {
            return false;
        }
    }

    private static ShardEntry WriteShard(Transformer model, IReadOnlyList<int[]> prompts, CapturePlan plan, string directory,
        DatasetCaptureOptions options, int shard, int first, int count, Action<int> onBatch, CancellationToken cancel)
    {
        var rows = plan.Hooks.ToDictionary(h => h, _ => new List<float>());
        var promptIndex = new List<long>();
        var position = new List<long>();
        var tokenCounts = new List<long>();
        for (int start = 0; start < count; start += options.BatchSize)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = Enumerable.Range(first + start, Math.Min(options.BatchSize, count - start)).Select(i => prompts[i]).ToArray();
            var captured = Capturer.Run(model, batch, plan);
            foreach (var (hook, tensor) in captured) rows[hook].AddRange(tensor.Data);
            var layout = captured[plan.Hooks[0]];
            for (int s = 0, row = 0; s < batch.Length; s++)
            {
                tokenCounts.Add(batch[s].Length);
                for (int r = 0; r < layout.RowsPerSequence[s]; r++, row++)
                {
                    promptIndex.Add(first + start + s);
                    position.Add(layout.RowPositions[row]);
                }
            }
            onBatch(start + batch.Length);
        }
        string file = ShardEntry.FileName(shard);
        var tensors = plan.Hooks.Select(h => Encode(h.Name, rows[h], model.Width, options.DType)).ToList();
        tensors.Add(TensorData.FromInt64("prompt_index", [promptIndex.Count], [.. promptIndex]));
        tensors.Add(TensorData.FromInt64("position", [position.Count], [.. position]));
        tensors.Add(TensorData.FromInt64("token_counts", [tokenCounts.Count], [.. tokenCounts]));
        string path = Path.Combine(directory, file);
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["nativelayers"] = Format,
            ["first_prompt"] = first.ToString(),
        });
        return new ShardEntry(shard, file, first, count, tokenCounts.Sum(), promptIndex.Count, new FileInfo(path).Length, ShardEntry.Checksum(path));
    }

    private static TensorData Encode(string name, List<float> values, int width, DType dtype)
    {
        long[] shape = [values.Count / width, width];
        var span = CollectionsMarshal.AsSpan(values);
        return dtype switch
        {
            DType.F16 => new TensorData(name, dtype, shape, MemoryMarshal.AsBytes(span.ToArray().Select(v => (Half)v).ToArray().AsSpan()).ToArray()),
            DType.BF16 => new TensorData(name, dtype, shape, MemoryMarshal.AsBytes(span.ToArray().Select(ToBf16).ToArray().AsSpan()).ToArray()),
            _ => new TensorData(name, dtype, shape, MemoryMarshal.AsBytes(span).ToArray()),
        };
    }

    /// <summary>Round to nearest even, as torch does.</summary>
    private static ushort ToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
    }

    private static string Fingerprint(Transformer model, IReadOnlyList<int[]> prompts, CapturePlan plan, DatasetCaptureOptions options)
    {
        using var sha = SHA256.Create();
        var text = new StringBuilder()
            .Append(Path.GetFullPath(model.Folder.Directory)).Append('|').Append(string.Join(",", plan.Hooks.Select(h => h.Name)))
            .Append('|').Append(plan.Tokens).Append('|').Append(plan.Reduction).Append('|').Append(options.DType)
            .Append('|').Append(options.PromptsPerShard).Append('|');
        foreach (var p in prompts) text.Append(string.Join(",", p)).Append(';');
        return Convert.ToHexString(sha.ComputeHash(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    private static JsonObject ManifestHeader(Transformer model, int promptCount, CapturePlan plan, DatasetCaptureOptions options, string fingerprint) => new()
    {
        ["format"] = Format,
        ["fingerprint"] = fingerprint,
        ["model"] = Path.GetFullPath(model.Folder.Directory),
        ["model_type"] = model.Config.ModelType,
        ["d_model"] = model.Width,
        ["layers"] = model.Layers,
        ["points"] = new JsonArray(plan.Hooks.Select(h => (JsonNode)h.Name).ToArray()),
        ["positions"] = plan.Tokens.ToString(),
        ["reduction"] = plan.Reduction.ToString().ToLowerInvariant(),
        ["dtype"] = options.DType.ToString(),
        ["rows_are"] = plan.Reduction == Reduction.None && plan.Tokens.Kind == TokenSelectionKind.All ? "tokens" : "prompts",
        ["prompt_count"] = promptCount,
        ["prompts_per_shard"] = options.PromptsPerShard,
    };

    private static void WriteManifest(string path, JsonObject header, Dictionary<int, ShardEntry> shards, int shardCount)
    {
        var manifest = (JsonObject)header.DeepClone();
        manifest["total_tokens"] = shards.Values.Sum(s => s.Tokens);
        manifest["complete"] = shards.Count == shardCount;
        CaptureManifestFile.Write(path, manifest, shards.Values);
    }
}
