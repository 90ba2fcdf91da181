using System.Text.Json.Nodes;
using NativeLayers.Loading;

namespace NativeLayers.ModelGen;

/// <summary>
/// Models whose study outcome is known by construction: a "tuned" copy that perturbs only the top blocks (Llama or BERT
/// layout: stories260k, all-MiniLM-L6-v2), a copy of a Llama-layout folder (RMSNorm) whose residual
/// basis is rotated by a random orthogonal matrix (same function, so CKA = 1 and stitching costs nothing), and
/// checkpoints interpolating between two weight sets. Every other file of the folder (tokenizer, generation config) is copied.
/// </summary>
public static partial class DerivedModels
{
    private const string Weights = "model.safetensors";
    private static readonly string[] Readers = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"];
    private static readonly string[] Writers = ["self_attn.o_proj", "mlp.down_proj"];

    /// <summary>Adds N(0, (noise·std W)²) to every matrix of blocks ≥ <paramref name="fromBlock"/>; blocks below are bit-identical.</summary>
    public static void TuneTopLayers(string source, string target, int fromBlock, double noise = 0.5, ulong seed = 1)
    {
        var (config, tensors) = Load(source);
        int layers = (int)config["num_hidden_layers"]!;
        if (fromBlock < 0 || fromBlock >= layers) throw new ArgumentException($"--from-block must be in 0..{layers - 1}, got {fromBlock}.");
        var rng = new Gaussian(seed);
        foreach (var (name, (shape, values)) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (shape.Length != 2 || Block(name) is not int block || block < fromBlock) continue;
            double mean = values.Average(v => (double)v);
            double std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
            for (int i = 0; i < values.Length; i++) values[i] += (float)(noise * std * rng.Next());
        }
        Save(source, target, config, tensors);
    }

    /// <summary>
    /// Rotates the residual basis by a random orthogonal Q (r → rQ). RMSNorm commutes with Q (it only divides by the
    /// norm), but its elementwise weight does not, so each norm weight is first folded into the matrices that read its
    /// output (columns scaled) and set to 1; readers become W·diag(g)·Q, writers Qᵀ·W, the embeddings E·Q and the head
    /// E·diag(g_final)·Q, which unties it from the embeddings.
    /// </summary>
    public static void RotateResidual(string source, string target, ulong seed = 1)
    {
        var (config, tensors) = Load(source);
        int layers = (int)config["num_hidden_layers"]!, d = (int)config["hidden_size"]!;
        if ((string?)config["model_type"] != "llama") throw new ArgumentException($"the rotation knows the llama layout only, not {(string?)config["model_type"]}.");
        var q = RandomOrthogonal(d, seed);
        var (embedShape, embed) = tensors["model.embed_tokens.weight"];
        var head = tensors.TryGetValue("lm_head.weight", out var h) ? h.Values : embed;
        var finalNorm = tensors["model.norm.weight"].Values;
        tensors["lm_head.weight"] = (embedShape, Multiply(ScaleColumns(head, d, finalNorm), d, q));
        tensors["model.embed_tokens.weight"] = (embedShape, Multiply(embed, d, q));
        Array.Fill(finalNorm, 1f);
        for (int l = 0; l < layers; l++)
        {
            string p = $"model.layers.{l}.";
            foreach (string reader in Readers)
            {
                var norm = tensors[p + (reader.StartsWith("self_attn", StringComparison.Ordinal) ? "input_layernorm" : "post_attention_layernorm") + ".weight"].Values;
                var (shape, w) = tensors[p + reader + ".weight"];
                tensors[p + reader + ".weight"] = (shape, Multiply(ScaleColumns(w, d, norm), d, q));
            }
            foreach (string writer in Writers)
            {
                var (shape, w) = tensors[p + writer + ".weight"];
                tensors[p + writer + ".weight"] = (shape, TransposeTimes(q, d, w, (int)shape[1]));
            }
            Array.Fill(tensors[p + "input_layernorm.weight"].Values, 1f);
            Array.Fill(tensors[p + "post_attention_layernorm.weight"].Values, 1f);
        }
        config["tie_word_embeddings"] = false;
        Save(source, target, config, tensors);
    }

    /// <summary>(1 − t)·A + t·B for every tensor; the folders must hold the same names and shapes. The config is A's.</summary>
    public static void Interpolate(string a, string b, string target, double t)
    {
        var (config, ta) = Load(a);
        var (_, tb) = Load(b);
        if (!ta.Keys.Order().SequenceEqual(tb.Keys.Order())) throw new ArgumentException("the two models hold different tensors.");
        foreach (var (name, (shape, va)) in ta)
        {
            var vb = tb[name].Values;
            if (!shape.SequenceEqual(tb[name].Shape)) throw new ArgumentException($"{name} has different shapes in the two models.");
            for (int i = 0; i < va.Length; i++) va[i] = (float)((1 - t) * va[i] + t * vb[i]);
        }
        Save(a, target, config, ta);
    }

    /// <summary>The block a tensor belongs to: <c>model.layers.N.</c> (Llama) or <c>encoder.layer.N.</c> (BERT).</summary>
    private static int? Block(string name) =>
        BlockName().Match(name) is { Success: true } m ? int.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) : null;

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?:model\.layers|encoder\.layer)\.(\d+)\.")]
    private static partial System.Text.RegularExpressions.Regex BlockName();

    private static (JsonObject Config, Dictionary<string, (long[] Shape, float[] Values)> Tensors) Load(string folder)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        using var file = SafetensorsFile.Open(Path.Combine(folder, Weights));
        var tensors = file.Tensors.ToDictionary(t => t.Name, t => (t.Shape, file.ReadFloat32(t.Name)));
        return (config, tensors);
    }

    private static void Save(string source, string target, JsonObject config, Dictionary<string, (long[] Shape, float[] Values)> tensors)
    {
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(source, file);
            if (relative is Weights or "config.json") continue;
            string destination = Path.Combine(target, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination, overwrite: true);
        }
        File.WriteAllText(Path.Combine(target, "config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        SafetensorsWriter.Write(Path.Combine(target, Weights),
            tensors.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => TensorData.FromFloats(t.Key, t.Value.Shape, t.Value.Values)),
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>W (rows × d) times diag(g): column k scaled by g[k].</summary>
    private static float[] ScaleColumns(float[] w, int d, float[] g)
    {
        var r = new float[w.Length];
        for (int i = 0; i < w.Length; i++) r[i] = w[i] * g[i % d];
        return r;
    }

    /// <summary>W (rows × d) times Q (d × d), in float64.</summary>
    private static float[] Multiply(float[] w, int d, double[,] q)
    {
        int rows = w.Length / d;
        var r = new float[w.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += w[i * d + k] * q[k, j];
                r[i * d + j] = (float)s;
            }
        return r;
    }

    /// <summary>Qᵀ (d × d) times W (d × cols), in float64.</summary>
    private static float[] TransposeTimes(double[,] q, int d, float[] w, int cols)
    {
        var r = new float[w.Length];
        for (int i = 0; i < d; i++)
            for (int c = 0; c < cols; c++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += q[k, i] * w[k * cols + c];
                r[i * cols + c] = (float)s;
            }
        return r;
    }

    /// <summary>A Gaussian matrix orthonormalised by modified Gram–Schmidt (twice, for orthogonality to round-off).</summary>
    internal static double[,] RandomOrthogonal(int d, ulong seed)
    {
        var rng = new Gaussian(seed);
        var q = new double[d, d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) q[i, j] = rng.Next();
        for (int pass = 0; pass < 2; pass++)
            for (int c = 0; c < d; c++)
            {
                for (int p = 0; p < c; p++)
                {
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += q[i, c] * q[i, p];
                    for (int i = 0; i < d; i++) q[i, c] -= dot * q[i, p];
                }
                double norm = 0;
                for (int i = 0; i < d; i++) norm += q[i, c] * q[i, c];
                norm = Math.Sqrt(norm);
                for (int i = 0; i < d; i++) q[i, c] /= norm;
            }
        return q;
    }

    /// <summary>SplitMix64 uniforms turned into standard normals by Box–Muller.</summary>
    private sealed class Gaussian(ulong seed)
    {
        private ulong _state = seed;

        public double Next()
        {
            double u1 = (Uniform() + 1) / (double)(1UL << 53), u2 = Uniform() / (double)(1UL << 53);
            return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        private ulong Uniform()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return (z ^ (z >> 31)) >> 11;
        }
    }
}
