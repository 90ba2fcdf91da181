using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Capture;

/// <summary>One finished shard as the manifest records it: where its prompts start, what it holds, and its checksum.</summary>
internal sealed record ShardEntry(int Index, string File, int FirstPrompt, int Prompts, long Tokens, long Rows, long Bytes, string Sha256)
{
    public static string FileName(int index) => $"shard-{index:D5}.safetensors";

    public JsonObject ToJson() => new()
    {
        ["file"] = File, ["first_prompt"] = FirstPrompt, ["prompts"] = Prompts, ["tokens"] = Tokens, ["rows"] = Rows,
        ["bytes"] = Bytes, ["sha256"] = Sha256,
    };

    public static string Checksum(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}

/// <summary>
/// manifest.json of a capture folder: read strictly (any malformed field is one error naming the file and the field),
/// written atomically under a unique temporary name.
/// </summary>
internal static class CaptureManifestFile
{
    public static Dictionary<int, ShardEntry> ReadShards(string path, string fingerprint)
    {
        var shards = new Dictionary<int, ShardEntry>();
        if (!File.Exists(path)) return shards;
        JsonNode? manifest;
        try
        {
            manifest = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw Malformed(path, $"is not valid JSON ({e.Message})");
        }
        if (manifest is not JsonObject root) throw Malformed(path, "is not a JSON object");
        if (!TryString(root["fingerprint"], out var found) || found != fingerprint)
            throw new ModelFileException(path, "this folder holds a capture of another model, prompt set or plan; choose a new --out folder or delete this one.");
        if (root["shards"] is not JsonArray list) throw Malformed(path, "has no 'shards' list");
        for (int i = 0; i < list.Count; i++)
        {
            var entry = Entry(path, list[i], i);
            if (!shards.TryAdd(entry.Index, entry)) throw Malformed(path, $"lists shard {entry.File} twice");
        }
        return shards;
    }

    private static ShardEntry Entry(string path, JsonNode? node, int i)
    {
        string where = $"shards[{i}]";
        if (node is not JsonObject o) throw Malformed(path, $"{where} is not an object");
        string file = TryString(o["file"], out var f) ? f : throw Malformed(path, $"{where}.file is not a string");
        if (!file.StartsWith("shard-") || !file.EndsWith(".safetensors") || !int.TryParse(file["shard-".Length..^".safetensors".Length], out int index)
            || index < 0 || ShardEntry.FileName(index) != file)
            throw Malformed(path, $"{where}.file '{file}' is not a shard name (shard-NNNNN.safetensors)");
        long Number(string name) => o[name] is JsonValue v && v.TryGetValue(out long n) && n >= 0 ? n : throw Malformed(path, $"{where}.{name} is not a non-negative integer");
        string sha = TryString(o["sha256"], out var s) && s.Length == 64 ? s : throw Malformed(path, $"{where}.sha256 is not a SHA-256 hex digest");
        return new ShardEntry(index, file, checked((int)Number("first_prompt")), checked((int)Number("prompts")), Number("tokens"), Number("rows"), Number("bytes"), sha);
    }

    private static bool TryString(JsonNode? node, out string value)
    {
        value = "";
        return node is JsonValue v && v.TryGetValue(out value!);
    }

    private static ModelFileException Malformed(string path, string what) =>
        new(path, $"the capture manifest {what}; delete it (the shards are then redone) or write to another --out folder.");

    public static void Write(string path, JsonObject header, IEnumerable<ShardEntry> shards)
    {
        var manifest = (JsonObject)header.DeepClone();
        manifest["shards"] = new JsonArray(shards.OrderBy(s => s.Index).Select(s => (JsonNode)s.ToJson()).ToArray());
        StagedFiles.Write(path, stream => JsonSerializer.Serialize(stream, manifest, new JsonSerializerOptions { WriteIndented = true }));
    }
}
