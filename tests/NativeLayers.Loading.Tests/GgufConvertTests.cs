using System.Runtime.InteropServices;
using System.Text.Json;
using NativeLayers.GgufConvert;

namespace NativeLayers.Loading.Tests;

/// <summary>nl-gguf: a tiny Llama written as GGUF and read back with <see cref="MiniGgufReader"/>.</summary>
public sealed class GgufConvertTests : IDisposable
{
    private const int Hidden = 16, Layers = 2, Heads = 4, KvHeads = 2, HeadDim = Hidden / Heads, Intermediate = 24, Vocab = 40;
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly Dictionary<string, long[]> Shapes = BuildShapes();

    private static Dictionary<string, long[]> BuildShapes()
    {
        var shapes = new Dictionary<string, long[]>
        {
            ["model.embed_tokens.weight"] = [Vocab, Hidden],
            ["model.norm.weight"] = [Hidden],
            ["lm_head.weight"] = [Vocab, Hidden],
        };
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            shapes[p + "input_layernorm.weight"] = [Hidden];
            shapes[p + "post_attention_layernorm.weight"] = [Hidden];
            shapes[p + "self_attn.q_proj.weight"] = [Heads * HeadDim, Hidden];
            shapes[p + "self_attn.k_proj.weight"] = [KvHeads * HeadDim, Hidden];
            shapes[p + "self_attn.v_proj.weight"] = [KvHeads * HeadDim, Hidden];
            shapes[p + "self_attn.o_proj.weight"] = [Hidden, Heads * HeadDim];
            shapes[p + "mlp.gate_proj.weight"] = [Intermediate, Hidden];
            shapes[p + "mlp.up_proj.weight"] = [Intermediate, Hidden];
            shapes[p + "mlp.down_proj.weight"] = [Hidden, Intermediate];
        }
        return shapes;
    }

    /// <summary>Every element distinct (tensor index · 10⁴ + element index, scaled), so a misplaced row shows.</summary>
    private static float[] Values(string name)
    {
        int salt = Shapes.Keys.Order(StringComparer.Ordinal).ToList().IndexOf(name);
        long count = Shapes[name].Aggregate(1L, (a, b) => a * b);
        return Enumerable.Range(0, (int)count).Select(i => (salt * 10_000 + i) * 1e-4f).ToArray();
    }

    private string WriteModel(string modelType = "llama", bool extraTensor = false)
    {
        string dir = Path.Combine(_temp.Path, "model");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model_type"] = modelType, ["architectures"] = new[] { "LlamaForCausalLM" }, ["vocab_size"] = Vocab,
            ["hidden_size"] = Hidden, ["num_hidden_layers"] = Layers, ["num_attention_heads"] = Heads,
            ["num_key_value_heads"] = KvHeads, ["intermediate_size"] = Intermediate, ["rms_norm_eps"] = 1e-5,
            ["rope_theta"] = 10000.0, ["max_position_embeddings"] = 128, ["tie_word_embeddings"] = false,
            ["hidden_act"] = "silu", ["bos_token_id"] = 1, ["eos_token_id"] = 2,
        }));
        var tensors = Shapes.Select(kv => TensorData.FromFloats(kv.Key, kv.Value, Values(kv.Key))).ToList();
        if (extraTensor) tensors.Add(TensorData.FromFloats("model.layers.0.mystery.weight", [2], [1f, 2f]));
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        return dir;
    }

    private static string GgufName(string hf) =>
        LlamaTensorNames.Map(hf)?.Name ?? throw new InvalidOperationException($"no GGUF name for {hf}");

    [Fact]
    public void F32FileHasTheHeaderMetadataAndTensorLayoutOfTheSpec()
    {
        string output = _temp.File("tiny.gguf");
        var result = LlamaGgufConverter.Convert(WriteModel(), output, GgmlType.F32);
        var gguf = MiniGgufReader.Read(output);

        Assert.Equal(3u, gguf.Version);
        Assert.Equal(Shapes.Count, result.Tensors);
        var m = gguf.Metadata;
        Assert.Equal("llama", m["general.architecture"]);
        Assert.Equal(0u, m["general.file_type"]);
        Assert.Equal((uint)Hidden, m["llama.embedding_length"]);
        Assert.Equal((uint)Layers, m["llama.block_count"]);
        Assert.Equal((uint)Intermediate, m["llama.feed_forward_length"]);
        Assert.Equal((uint)Heads, m["llama.attention.head_count"]);
        Assert.Equal((uint)KvHeads, m["llama.attention.head_count_kv"]);
        Assert.Equal((uint)HeadDim, m["llama.rope.dimension_count"]);
        Assert.Equal((uint)128, m["llama.context_length"]);
        Assert.Equal(10000f, m["llama.rope.freq_base"]);
        Assert.Equal(1e-5f, m["llama.attention.layer_norm_rms_epsilon"]);

        Assert.Equal("llama", m["tokenizer.ggml.model"]);
        var tokens = (List<object>)m["tokenizer.ggml.tokens"];
        Assert.Equal(Vocab, tokens.Count);
        Assert.Equal(Vocab, tokens.Distinct().Count());
        Assert.Equal(["<unk>", "<s>", "</s>"], tokens.Take(3).Cast<string>());
        Assert.Equal(Vocab, ((List<object>)m["tokenizer.ggml.scores"]).Count);
        Assert.Equal([2, 3, 3, 1], ((List<object>)m["tokenizer.ggml.token_type"]).Take(4).Cast<int>());
        Assert.Equal(1u, m["tokenizer.ggml.bos_token_id"]);
        Assert.Equal(2u, m["tokenizer.ggml.eos_token_id"]);

        // Offsets: aligned, in order, not overlapping, inside the file.
        ulong end = 0;
        foreach (var t in gguf.Tensors)
        {
            Assert.Equal(0UL, t.Offset % gguf.Alignment);
            Assert.True(t.Offset >= end, $"{t.Name} overlaps the tensor before it");
            end = t.Offset + (ulong)t.ByteLength;
        }
        Assert.True(gguf.DataStart + (long)end <= gguf.File.Length);
        Assert.Equal(0, gguf.DataStart % gguf.Alignment);

        Assert.Equal(Shapes.Keys.Select(GgufName).Order(), gguf.Tensors.Select(t => t.Name).Order());
        Assert.Contains(gguf.Tensors, t => t.Name == "blk.1.attn_q.weight");
        Assert.Contains(gguf.Tensors, t => t.Name == "output.weight");
    }

    [Fact]
    public void F32TensorsAreTheSourceWeightsWithQueryAndKeyRowsInterleavedPerHead()
    {
        string output = _temp.File("tiny.gguf");
        LlamaGgufConverter.Convert(WriteModel(), output, GgmlType.F32);
        var gguf = MiniGgufReader.Read(output);

        foreach (var (name, shape) in Shapes)
        {
            var tensor = gguf.Tensor(GgufName(name));
            Assert.Equal(0u, tensor.Type);
            Assert.Equal(shape.Reverse().Select(d => (ulong)d), tensor.Dimensions);
            float[] stored = MemoryMarshal.Cast<byte, float>(gguf.Bytes(tensor)).ToArray();
            float[] source = Values(name);
            int heads = name.EndsWith("q_proj.weight", StringComparison.Ordinal) ? Heads
                : name.EndsWith("k_proj.weight", StringComparison.Ordinal) ? KvHeads : 0;
            if (heads == 0)
            {
                Assert.Equal(source, stored);
                continue;
            }
            // Undo the permutation by its definition: Hugging Face row (h, s·d/2 + i) is GGUF row (h, 2i + s).
            var restored = new float[stored.Length];
            for (int h = 0; h < heads; h++)
            for (int i = 0; i < HeadDim / 2; i++)
            for (int s = 0; s < 2; s++)
                Array.Copy(stored, (h * HeadDim + 2 * i + s) * Hidden, restored, (h * HeadDim + s * HeadDim / 2 + i) * Hidden, Hidden);
            Assert.Equal(source, restored);
            Assert.NotEqual(source, stored);
        }
    }

    [Theory]
    [InlineData(GgmlType.F16, 1u, 1u)]
    [InlineData(GgmlType.BF16, 30u, 32u)]
    public void HalfTypesConvertTheMatricesAndKeepTheNormsF32(GgmlType type, uint ggmlType, uint fileType)
    {
        string output = _temp.File("tiny.gguf");
        LlamaGgufConverter.Convert(WriteModel(), output, type);
        var gguf = MiniGgufReader.Read(output);
        Assert.Equal(fileType, gguf.Metadata["general.file_type"]);

        var norm = gguf.Tensor("blk.0.attn_norm.weight");
        Assert.Equal(0u, norm.Type);
        Assert.Equal(Values("model.layers.0.input_layernorm.weight"), MemoryMarshal.Cast<byte, float>(gguf.Bytes(norm)).ToArray());

        var up = gguf.Tensor("blk.0.ffn_up.weight");
        Assert.Equal(ggmlType, up.Type);
        var halves = MemoryMarshal.Cast<byte, ushort>(gguf.Bytes(up)).ToArray();
        float[] source = Values("model.layers.0.mlp.up_proj.weight");
        Assert.Equal(source.Length, halves.Length);
        for (int i = 0; i < source.Length; i++)
        {
            float back = type == GgmlType.F16 ? (float)BitConverter.UInt16BitsToHalf(halves[i]) : BitConverter.UInt32BitsToSingle((uint)halves[i] << 16);
            float tolerance = Math.Abs(source[i]) * (type == GgmlType.F16 ? 1f / 2048 : 1f / 256) + 1e-7f;
            Assert.True(Math.Abs(back - source[i]) <= tolerance, $"element {i}: {source[i]} came back as {back}");
        }
    }

    [Fact]
    public void Stories260kKeepsItsSentencePieceVocabularyAndTiedHead()
    {
        string output = _temp.File("stories.gguf");
        var result = LlamaGgufConverter.Convert(ReferenceData.Stories260k, output, GgmlType.F32);
        var gguf = MiniGgufReader.Read(output);
        var tokens = ((List<object>)gguf.Metadata["tokenizer.ggml.tokens"]).Cast<string>().ToList();
        var types = ((List<object>)gguf.Metadata["tokenizer.ggml.token_type"]).Cast<int>().ToList();
        Assert.Equal(512, tokens.Count);
        Assert.Equal("<unk>", tokens[0]);
        Assert.Equal((int)GgufTokenType.Unknown, types[0]);
        Assert.Equal((int)GgufTokenType.Control, types[1]);
        Assert.Equal("<0x0A>", tokens[3 + 10]);
        Assert.Equal((int)GgufTokenType.Byte, types[3 + 10]);
        Assert.Contains("tokenizer.model", result.Vocabulary);
        Assert.DoesNotContain(gguf.Tensors, t => t.Name == "output.weight");
        Assert.Equal((uint)4, gguf.Metadata["llama.attention.head_count_kv"]);
    }

    [Fact]
    public void RefusesAnotherArchitectureAndUnknownTensorsWithoutLeavingAFile()
    {
        string output = _temp.File("refused.gguf");
        var wrongType = Assert.Throws<NotSupportedException>(() => LlamaGgufConverter.Convert(WriteModel(modelType: "mistral"), output, GgmlType.F32));
        Assert.Contains("model_type 'mistral'", wrongType.Message);
        var unknown = Assert.Throws<NotSupportedException>(() => LlamaGgufConverter.Convert(WriteModel(extraTensor: true), output, GgmlType.F32));
        Assert.Contains("model.layers.0.mystery.weight", unknown.Message);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.tmp"));
    }

    [Fact]
    public void RotaryPermutationInvertsAndBFloat16RoundsToNearestEven()
    {
        var rows = Enumerable.Range(0, 8 * 3).Select(i => (byte)i).ToArray();
        var interleaved = RotaryRowPermutation.ToInterleaved(rows, rowCount: 8, heads: 2);
        Assert.Equal(rows, RotaryRowPermutation.ToRotateHalf(interleaved, rowCount: 8, heads: 2));
        // Head of 4 rows: GGUF order is HF rows 0, 2, 1, 3.
        Assert.Equal(new byte[] { 0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11 }, interleaved[..12]);
        Assert.Equal(0x3F80, TensorBytes.ToBFloat16(1f));
        Assert.Equal(0x3F80, TensorBytes.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F80_8000))); // tie → even
        Assert.Equal(0x3F82, TensorBytes.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F81_8000))); // tie → even (up)
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)TensorBytes.ToBFloat16(float.NaN) << 16)));
    }
}
