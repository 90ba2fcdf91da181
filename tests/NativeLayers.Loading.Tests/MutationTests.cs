using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace NativeLayers.Loading.Tests;

/// <summary>
/// Thousands of corrupted variants of real safetensors files (seeded, so every run sees the same ones). For each,
/// <see cref="SafetensorsFile.Open"/> must either give a self-consistent file or throw a <see cref="ModelFileException"/>
/// naming the file: never another exception type, never a hang, never a large allocation.
/// </summary>
public sealed class MutationTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 260_000;
    private const long MaxAllocatedBytesPerCase = 8 << 20;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(10);

    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private enum Result { Opened, Rejected }

    private sealed record Outcome(Result Result, long AllocatedBytes, Exception? Unexpected = null);

    [SkippableFact]
    public void CorruptedFilesOpenConsistentlyOrFailWithModelFileException()
    {
        var watch = Stopwatch.StartNew();
        var rng = new Random(Seed);
        var counts = new Dictionary<Result, int> { [Result.Opened] = 0, [Result.Rejected] = 0 };
        long maxAllocated = 0;
        int total = 0;
        var sources = new (string Name, byte[] Bytes, int RandomCases)[]
        {
            ("stories260k", File.ReadAllBytes(Path.Combine(Shared.Stories, "model.safetensors")), 1500),
            ("small", SmallFile(), 4000),
        };
        foreach (var (name, original, randomCases) in sources)
        {
            string path = _temp.File(name + ".safetensors");
            var mutator = new Mutator(original, rng);
            foreach (var (label, bytes) in mutator.Truncations().Concat(Enumerable.Range(0, randomCases).Select(_ => mutator.Next())))
            {
                var outcome = Check(path, bytes);
                string where = $"{name} case {total} ({label}), seed {Seed}";
                if (outcome.Unexpected != null)
                    Assert.Fail($"{where}: {outcome.Unexpected}");
                Assert.True(outcome.AllocatedBytes < MaxAllocatedBytesPerCase, $"{where}: Open allocated {outcome.AllocatedBytes} bytes.");
                counts[outcome.Result]++;
                maxAllocated = Math.Max(maxAllocated, outcome.AllocatedBytes);
                total++;
            }
        }
        output.WriteLine($"{total} cases in {watch.Elapsed.TotalSeconds:F1} s: {counts[Result.Opened]} opened, "
            + $"{counts[Result.Rejected]} rejected; at most {maxAllocated / 1024} KiB allocated by one Open.");
        Assert.True(total > 5000);
        Assert.True(counts[Result.Opened] > 100, "too few mutants still open: the mutations are too crude to test consistency.");
        Assert.True(counts[Result.Rejected] > 1000);
        Assert.True(GC.GetTotalMemory(false) < 512 << 20, "the managed heap grew beyond 512 MB");
    }

    /// <summary>All dtypes, an empty and a scalar tensor, and metadata: a tiny file whose truncations can all be tried.</summary>
    private static byte[] SmallFile()
    {
        using var temp = new TempDir();
        var rng = new Random(Seed);
        var tensors = Enum.GetValues<DType>().Select((d, i) =>
        {
            long[] shape = i switch { 0 => [], 1 => [2, 0], _ => [2, 1 + i % 3] };
            var bytes = new byte[shape.Aggregate(1L, (a, b) => a * b) * d.SizeOf()];
            rng.NextBytes(bytes);
            return new TensorData($"layer.{i}.{d.Name().ToLowerInvariant()}", d, shape, bytes);
        });
        string path = temp.File("small.safetensors");
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode" });
        return File.ReadAllBytes(path);
    }

    /// <summary>Writes the bytes and opens them on a worker, so that a hang is caught by the timeout instead of stalling the run.</summary>
    private static Outcome Check(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        var task = Task.Run(() => OpenAndVerify(path, bytes));
        if (!task.Wait(CaseTimeout))
            return new Outcome(Result.Rejected, 0, new TimeoutException($"Open did not finish within {CaseTimeout.TotalSeconds} s."));
        return task.Result;
    }

    private static Outcome OpenAndVerify(string path, byte[] bytes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        SafetensorsFile file;
        try
        {
            file = SafetensorsFile.Open(path);
        }
        catch (ModelFileException e)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            return e.Message.StartsWith(path + ": ", StringComparison.Ordinal) && e.FilePath == path
                ? new Outcome(Result.Rejected, allocated)
                : new Outcome(Result.Rejected, allocated, new Exception($"message does not start with the path: {e.Message}", e));
        }
        catch (Exception e)
        {
            return new Outcome(Result.Rejected, 0, e);
        }
        long openAllocated = GC.GetAllocatedBytesForCurrentThread() - before;
        using (file)
        {
            try
            {
                VerifyConsistent(file, bytes);
                return new Outcome(Result.Opened, openAllocated);
            }
            catch (Exception e)
            {
                return new Outcome(Result.Opened, openAllocated, e);
            }
        }
    }

    /// <summary>Every tensor lies in the data region, matches its shape, owns its bytes alone and reads back as written.</summary>
    private static void VerifyConsistent(SafetensorsFile file, byte[] bytes)
    {
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        long dataStart = 8 + headerLength;
        Assert.Equal(bytes.Length - dataStart, file.DataLength);
        long previousEnd = 0;
        var names = new HashSet<string>();
        foreach (var t in file.Tensors)
        {
            Assert.True(names.Add(t.Name));
            Assert.NotEqual("__metadata__", t.Name);
            Assert.Same(t, file.Get(t.Name));
            Assert.True(Enum.IsDefined(t.DType));
            Assert.InRange(t.Rank, 0, 16);
            Assert.All(t.Shape, d => Assert.True(d >= 0));
            Assert.Equal(t.Shape.Aggregate(1L, (a, b) => a * b) * t.DType.SizeOf(), t.ByteLength);
            Assert.InRange(t.DataOffset, 0, file.DataLength - t.ByteLength);
            if (t.ByteLength == 0) continue;
            Assert.True(t.DataOffset >= previousEnd, $"tensor '{t.Name}' overlaps the one before it");
            previousEnd = t.DataOffset + t.ByteLength;
            Assert.True(file.Bytes(t).SequenceEqual(bytes.AsSpan((int)(dataStart + t.DataOffset), (int)t.ByteLength)));
        }
        Assert.NotNull(file.Metadata);
    }

    /// <summary>Produces mutants of one file: byte-level damage to the header, lying lengths, truncations and JSON-level lies.</summary>
    private sealed class Mutator
    {
        private readonly byte[] _original;
        private readonly Random _rng;
        private readonly int _headerLength;
        private readonly string _header;
        private readonly byte[] _data;

        public Mutator(byte[] original, Random rng)
        {
            _original = original;
            _rng = rng;
            _headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
            _header = Encoding.UTF8.GetString(original, 8, _headerLength);
            _data = original[(8 + _headerLength)..];
        }

        /// <summary>Cuts at every byte of a small file; for a large one, around the header and every tensor boundary, and at random points.</summary>
        public IEnumerable<(string, byte[])> Truncations()
        {
            var points = new SortedSet<int>();
            if (_original.Length <= 4096)
                points.UnionWith(Enumerable.Range(0, _original.Length));
            else
            {
                points.UnionWith(Enumerable.Range(0, 24));
                points.UnionWith(Enumerable.Range(_headerLength - 8, 40));
                using var json = System.Text.Json.JsonDocument.Parse(_header);
                foreach (var entry in json.RootElement.EnumerateObject().Where(e => e.Name != "__metadata__"))
                    foreach (int delta in new[] { -1, 0, 1 })
                        points.Add(8 + _headerLength + entry.Value.GetProperty("data_offsets")[0].GetInt32() + delta);
                for (int i = 0; i < 100; i++) points.Add(_rng.Next(_original.Length));
            }
            return points.Where(p => p >= 0 && p < _original.Length).Select(p => ($"truncated to {p} bytes", _original[..p]));
        }

        public (string Label, byte[] Bytes) Next() => _rng.Next(10) switch
        {
            0 => FlipBytes(),
            1 => InsertBytes(),
            2 => DeleteBytes(),
            3 => LieAboutLength(),
            4 => Truncate(),
            5 => WithFlips(JsonMutant()),
            _ => JsonMutant(),
        };

        private T Pick<T>(params T[] choices) => choices[_rng.Next(choices.Length)];

        private (string, byte[]) FlipBytes()
        {
            var bytes = (byte[])_original.Clone();
            int flips = 1 + _rng.Next(4);
            for (int i = 0; i < flips; i++)
                bytes[8 + _rng.Next(_headerLength)] = (byte)_rng.Next(256);
            return ($"{flips} random header bytes", bytes);
        }

        private (string Label, byte[] Bytes) WithFlips((string Label, byte[] Bytes) mutant)
        {
            int length = (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(mutant.Bytes), (ulong)mutant.Bytes.Length - 8);
            if (length > 0) mutant.Bytes[8 + _rng.Next(length)] ^= (byte)(1 << _rng.Next(8));
            return (mutant.Label + " + a flipped bit", mutant.Bytes);
        }

        private (string, byte[]) InsertBytes()
        {
            int at = 8 + _rng.Next(_headerLength + 1);
            var insert = new byte[1 + _rng.Next(16)];
            const string syntax = "{}[]\",:-+.0123456789eE \\u\0\xff";
            for (int i = 0; i < insert.Length; i++)
                insert[i] = _rng.Next(2) == 0 ? (byte)_rng.Next(256) : (byte)syntax[_rng.Next(syntax.Length)];
            byte[] bytes = [.. _original[..at], .. insert, .. _original[at..]];
            bool adjust = _rng.Next(2) == 0;
            if (adjust) BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(_headerLength + insert.Length));
            return ($"{insert.Length} bytes inserted at {at}{(adjust ? ", length adjusted" : "")}", bytes);
        }

        private (string, byte[]) DeleteBytes()
        {
            int at = 8 + _rng.Next(_headerLength);
            int count = Math.Min(1 + _rng.Next(16), 8 + _headerLength - at);
            byte[] bytes = [.. _original[..at], .. _original[(at + count)..]];
            bool adjust = _rng.Next(2) == 0;
            if (adjust) BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(_headerLength - count));
            return ($"{count} bytes deleted at {at}{(adjust ? ", length adjusted" : "")}", bytes);
        }

        private (string, byte[]) LieAboutLength()
        {
            long fileLength = _original.Length;
            ulong length = _rng.Next(12) switch
            {
                0 => (ulong)_rng.NextInt64() * 2 + (ulong)_rng.Next(2),
                1 => Pick<ulong>(ulong.MaxValue, long.MaxValue, 1UL << 63, 1UL << 32, uint.MaxValue),
                2 => Pick(100_000_000UL, 100_000_001UL, 99_999_999UL),
                3 or 4 => (ulong)_rng.Next(17),
                5 or 6 or 7 => (ulong)(_headerLength + _rng.Next(-8, 9)),
                8 => (ulong)(fileLength - 8 + _rng.Next(-2, 3)),
                _ => (ulong)_rng.NextInt64(fileLength),
            };
            var bytes = (byte[])_original.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
            return ($"header length {length}", bytes);
        }

        private (string, byte[]) Truncate()
        {
            int at = _rng.Next(3) == 0 ? _rng.Next(Math.Min(_original.Length, 8 + _headerLength + 16)) : _rng.Next(_original.Length);
            return ($"truncated to {at} bytes", _original[..at]);
        }

        // ---- JSON-level mutants: the header is parsed, lied about, reserialised and given a correct length field. ----

        private readonly List<string> _raw = new();

        /// <summary>A placeholder that is replaced by raw JSON text (or raw bytes) after serialisation.</summary>
        private JsonNode Raw(string text)
        {
            _raw.Add(text);
            return JsonValue.Create($"@@RAW{_raw.Count - 1}@@");
        }

        private (string, byte[]) JsonMutant()
        {
            _raw.Clear();
            var root = JsonNode.Parse(_header)!.AsObject();
            var labels = new List<string>();
            int count = 1 + _rng.Next(3);
            for (int i = 0; i < count; i++) labels.Add(MutateJson(root));
            string text = root.ToJsonString();
            for (int i = 0; i < _raw.Count; i++) text = text.Replace($"\"@@RAW{i}@@\"", _raw[i]);
            byte[] header = Encoding.UTF8.GetBytes(text);
            if (text.Contains("@@BYTES@@")) header = InvalidUtf8(text);
            return (string.Join("; ", labels), RawSafetensors.Build(header, _data, pad: _rng.Next(4) != 0));
        }

        private byte[] InvalidUtf8(string text)
        {
            byte[] bad = Pick<byte[]>([0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC3], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80]);
            var parts = text.Split("@@BYTES@@");
            return [.. Encoding.UTF8.GetBytes(parts[0]), .. bad, .. Encoding.UTF8.GetBytes(string.Join("", parts.Skip(1)))];
        }

        private string MutateJson(JsonObject root)
        {
            var names = root.Select(p => p.Key).Where(k => k != "__metadata__").ToList();
            if (names.Count == 0) { root["w"] = NewEntry(); return "added tensor 'w'"; }
            string name = Pick(names.ToArray());
            if (root[name] is not JsonObject entry) { root[name] = NewEntry(); return $"replaced '{name}'"; }
            switch (_rng.Next(16))
            {
                case 0 or 1:
                    entry["dtype"] = AnyDType();
                    return $"'{name}' dtype {entry["dtype"]?.ToJsonString()}";
                case 2 or 3:
                    MutateShape(entry);
                    return $"'{name}' shape {entry["shape"]?.ToJsonString()}";
                case 4 or 5 or 6:
                    MutateOffsets(root, entry);
                    return $"'{name}' data_offsets {entry["data_offsets"]?.ToJsonString()}";
                case 7:
                    root[name] = Pick<Func<JsonNode?>>(() => 1, () => "x", () => null, () => true, () => new JsonArray(), () => new JsonArray(0, 4), () => new JsonObject())();
                    return $"'{name}' entry {root[name]?.ToJsonString() ?? "null"}";
                case 8:
                    entry.Remove(Pick("dtype", "shape", "data_offsets"));
                    return $"'{name}' lost a field";
                case 9:
                    entry[Pick("extra", "dtype2", "DTYPE")] = Pick<Func<JsonNode>>(() => 1, () => "F32", () => Deep(), () => new JsonArray(1, 2))();
                    return $"'{name}' got an extra field";
                case 10:
                    root[Pick("", "__metadata__", name + "\u0000", "a\u00e9\u6f22\U0001F642", "@@BYTES@@")] = entry.DeepClone();
                    return $"copied '{name}' under another name";
                case 11:
                    root.Remove(name);
                    root[name] = Raw($"{entry.ToJsonString()},\"{name}\":{entry.ToJsonString()}"); // the same key twice
                    return $"'{name}' appears twice";
                case 12:
                    root["__metadata__"] = Pick<Func<JsonNode?>>(() => null, () => 1, () => "pt", () => new JsonArray("pt"),
                        () => new JsonObject { ["format"] = 3 }, () => new JsonObject { ["format"] = Deep() },
                        () => Raw("{\"a\":\"1\",\"a\":\"2\"}"), () => new JsonObject { ["k" + new string('x', _rng.Next(4000))] = "v" })();
                    return $"__metadata__ {root["__metadata__"]?.ToJsonString() ?? "null"}";
                case 13:
                    root[name] = Raw(Pick("[", "{", "\"\\ud800\"", "\"@@BYTES@@\"", "01", "1e999", "NaN", "-", "tru", "\"\\x\"", "{}}", "[]]"));
                    return $"'{name}' entry is broken JSON";
                case 14:
                    root.Remove(name);
                    return $"removed '{name}'";
                default:
                    root[Pick("w", name + ".x", "__metadata__x")] = NewEntry();
                    return "added a random tensor";
            }
        }

        private JsonNode Deep()
        {
            int depth = Pick(3, 6, 7, 8, 64, 10_000);
            return Raw(new string('[', depth) + new string(']', depth));
        }

        private JsonNode? AnyDType() => Pick<Func<JsonNode?>>(
            () => Pick(Enum.GetNames<DType>()),
            () => Pick("f32", "F8_E4M3", "F8_E5M2", "U16", "U32", "U64", "C64", "", " F32", "F32 ", "F32,F16", "BF16, F32", "0", "3", "-1", "F32\u0000", "Bool", "bool"),
            () => Raw(Pick("\"\\ud800\"", "\"F\\u0033\\u0032\"", "\"@@BYTES@@\"")),
            () => null, () => 4, () => true, () => new JsonArray("F32"), () => new JsonObject())();

        private JsonNode Dim() => _rng.Next(4) switch
        {
            0 => _rng.Next(6),
            1 => Pick<long>(-1, 1L << 31, 1L << 32, 1L << 40, 1L << 62, long.MaxValue, long.MinValue),
            2 => Raw(Pick("9223372036854775808", "18446744073709551616", "1e30", "1.5", "-0", "2.0", "1E2", "1e-5", "00", "0x10")),
            _ => Pick<Func<JsonNode>>(() => "3", () => Raw("null"), () => new JsonArray(), () => new JsonObject())(),
        };

        private void MutateShape(JsonObject entry)
        {
            var shape = entry["shape"] as JsonArray;
            switch (_rng.Next(6))
            {
                case 0 when shape is { Count: > 0 }:
                    shape[_rng.Next(shape.Count)] = Dim();
                    break;
                case 1 when shape != null:
                    shape.Add(Dim());
                    break;
                case 2 when shape is { Count: > 0 }:
                    shape.RemoveAt(shape.Count - 1);
                    break;
                case 3:
                    // Products that overflow 64 bits, some of them wrapping to the true byte count.
                    entry["shape"] = Pick<Func<JsonNode>>(() => new JsonArray(1L << 32, 1L << 32), () => new JsonArray(long.MaxValue, 2),
                        () => new JsonArray(1L << 62, 4, 0), () => new JsonArray(1L << 61, 1L << 61, 1L << 61), () => new JsonArray(-1, -1))();
                    break;
                case 4:
                    entry["shape"] = new JsonArray(Enumerable.Range(0, Pick(16, 17, 64)).Select(_ => (JsonNode)1).ToArray());
                    break;
                default:
                    entry["shape"] = Pick<Func<JsonNode?>>(() => 3, () => "[1]", () => null, () => new JsonObject(), () => new JsonArray())();
                    break;
            }
        }

        private void MutateOffsets(JsonObject root, JsonObject entry)
        {
            long begin = 0, end = 0;
            if (entry["data_offsets"] is JsonArray { Count: 2 } o && o[0] is JsonValue b && o[1] is JsonValue e
                && b.TryGetValue(out long bv) && e.TryGetValue(out long ev))
                (begin, end) = (bv, ev);
            long size = end - begin, data = _data.Length;
            long k = Pick(1, 2, 4, 8, size, -size, data);
            var other = root.Select(p => p.Value).OfType<JsonObject>().Where(x => x.ContainsKey("data_offsets")).ToArray();
            entry["data_offsets"] = _rng.Next(10) switch
            {
                0 => new JsonArray(end, begin),
                1 when other.Length > 0 => Pick(other)["data_offsets"]!.DeepClone(),
                2 => new JsonArray(begin + k, end + k),
                3 => new JsonArray(begin, end + k),
                4 => new JsonArray(data - size + Pick(0, 1), data + Pick(0, 1)),
                5 => new JsonArray(Pick(-1L, long.MaxValue, long.MinValue, 1L << 62), Pick(end, long.MaxValue, -1L)),
                6 => new JsonArray(begin, Raw(Pick("18446744073709551616", "1.5", "\"8\"", "null", "1e3", "-0"))),
                7 => Pick<Func<JsonNode>>(() => new JsonArray(), () => new JsonArray(begin), () => new JsonArray(begin, end, end))(),
                8 => Pick<Func<JsonNode?>>(() => null, () => begin, () => new JsonObject { ["0"] = begin, ["1"] = end })(),
                _ => new JsonArray(_rng.NextInt64(data + 1), _rng.NextInt64(data + 1)),
            };
        }

        private JsonObject NewEntry()
        {
            var dtype = Pick(Enum.GetValues<DType>());
            var shape = new JsonArray(Enumerable.Range(0, _rng.Next(4)).Select(_ => (JsonNode)_rng.Next(5)).ToArray());
            long bytes = shape.Aggregate(1L, (a, d) => a * d!.GetValue<int>()) * dtype.SizeOf();
            long begin = _rng.NextInt64(_data.Length + 1);
            return new JsonObject
            {
                ["dtype"] = dtype.Name(),
                ["shape"] = shape,
                ["data_offsets"] = new JsonArray(begin, begin + bytes),
            };
        }
    }
}
