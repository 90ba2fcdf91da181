using System.Buffers;
using System.Numerics.Tensors;
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

        // The forwards of shard k + 1 run while a writer thread writes shard k (at most two shards' rows in memory);
        // the manifest records a shard only once its file is complete, so a kill at any moment loses at most the
        // shards in flight.
        Task<ShardEntry>? writing = null;
        void Record(ShardEntry entry)
        {
            tokensDone += entry.Tokens;
            shards[entry.Index] = entry;
            WriteManifest(manifestPath, header, shards, shardCount);
            progress?.Report(new CaptureProgress(entry.FirstPrompt + entry.Prompts, prompts.Count, tokensDone, shards.Count, shardCount, skipped));
        }
        try
        {
            for (int shard = 0; shard < shardCount; shard++)
            {
                int first = shard * options.PromptsPerShard, count = Math.Min(options.PromptsPerShard, prompts.Count - first);
                if (shards.ContainsKey(shard))
                {
                    progress?.Report(new CaptureProgress(first + count, prompts.Count, tokensDone, shard + 1, shardCount, skipped));
                    continue;
                }
                cancel.ThrowIfCancellationRequested();
                var rows = CaptureShard(model, prompts, plan, options, shard, first, count, done =>
                    progress?.Report(new CaptureProgress(first + done, prompts.Count, tokensDone, shards.Count, shardCount, skipped)), cancel);
                if (writing != null) Record(writing.GetAwaiter().GetResult());
                writing = Task.Run(() => WriteShard(rows, plan, directory, options.DType));
            }
            if (writing != null) Record(writing.GetAwaiter().GetResult());
            writing = null;
        }
        finally
        {
            // On an error or a cancellation the shard being written is still finished and recorded, then the error goes on.
            if (writing != null)
                try { Record(writing.GetAwaiter().GetResult()); }
                catch (Exception) { } // the loop's own error is the one to report
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

    /// <summary>One shard's captured rows, already encoded in the shard's dtype, and the per-row indices.</summary>
    private sealed record ShardRows(int Index, int FirstPrompt, int Prompts, int Width, Dictionary<HookId, ArrayBufferWriter<byte>> Rows,
        List<long> PromptIndex, List<long> Positions, List<long> TokenCounts);

    private static ShardRows CaptureShard(Transformer model, IReadOnlyList<int[]> prompts, CapturePlan plan, DatasetCaptureOptions options,
        int shard, int first, int count, Action<int> onBatch, CancellationToken cancel)
    {
        long expectedRows = plan.Reduction == Reduction.None && plan.Tokens.Kind == TokenSelectionKind.All
            ? Enumerable.Range(first, count).Sum(i => (long)prompts[i].Length) : count;
        int capacity = (int)Math.Min(int.MaxValue / 2, expectedRows * model.Width * options.DType.SizeOf());
        var rows = plan.Hooks.ToDictionary(h => h, _ => new ArrayBufferWriter<byte>(Math.Max(1, capacity)));
        var result = new ShardRows(shard, first, count, model.Width, rows, [], [], []);
        for (int start = 0; start < count; start += options.BatchSize)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = Enumerable.Range(first + start, Math.Min(options.BatchSize, count - start)).Select(i => prompts[i]).ToArray();
            var captured = Capturer.Run(model, batch, plan);
            foreach (var (hook, tensor) in captured) Encode(tensor.Data, options.DType, rows[hook]);
            var layout = captured[plan.Hooks[0]];
            for (int s = 0, row = 0; s < batch.Length; s++)
            {
                result.TokenCounts.Add(batch[s].Length);
                for (int r = 0; r < layout.RowsPerSequence[s]; r++, row++)
                {
                    result.PromptIndex.Add(first + start + s);
                    result.Positions.Add(layout.RowPositions[row]);
                }
            }
            onBatch(start + batch.Length);
        }
        return result;
    }

    private static ShardEntry WriteShard(ShardRows shard, CapturePlan plan, string directory, DType dtype)
    {
        var tensors = plan.Hooks.Select(h => new TensorData(h.Name, dtype, [shard.PromptIndex.Count, shard.Width], shard.Rows[h].WrittenMemory)).ToList();
        tensors.Add(TensorData.FromInt64("prompt_index", [shard.PromptIndex.Count], [.. shard.PromptIndex]));
        tensors.Add(TensorData.FromInt64("position", [shard.Positions.Count], [.. shard.Positions]));
        tensors.Add(TensorData.FromInt64("token_counts", [shard.TokenCounts.Count], [.. shard.TokenCounts]));
        string file = ShardEntry.FileName(shard.Index);
        string path = Path.Combine(directory, file);
        byte[] sha256 = SafetensorsWriter.WriteWithSha256(path, tensors, new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["nativelayers"] = Format,
            ["first_prompt"] = shard.FirstPrompt.ToString(),
        });
        return new ShardEntry(shard.Index, file, shard.FirstPrompt, shard.Prompts, shard.TokenCounts.Sum(), shard.PromptIndex.Count,
            new FileInfo(path).Length, Convert.ToHexString(sha256).ToLowerInvariant());
    }

    /// <summary>Appends float rows to a shard's bytes in its dtype (F16 and BF16 round to nearest even).</summary>
    private static void Encode(ReadOnlySpan<float> values, DType dtype, ArrayBufferWriter<byte> output)
    {
        int bytes = values.Length * dtype.SizeOf();
        var target = output.GetSpan(bytes)[..bytes];
        switch (dtype)
        {
            case DType.F16: TensorPrimitives.ConvertToHalf(values, MemoryMarshal.Cast<byte, Half>(target)); break;
            case DType.BF16:
                var bf16 = MemoryMarshal.Cast<byte, ushort>(target);
                for (int i = 0; i < values.Length; i++) bf16[i] = ToBf16(values[i]);
                break;
            default: MemoryMarshal.AsBytes(values).CopyTo(target); break;
        }
        output.Advance(bytes);
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
