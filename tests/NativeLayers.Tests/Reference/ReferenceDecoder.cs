using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Tests.Reference;

/// <summary>
/// A plain float64 forward pass of GPT-2 (GPT2LMHeadModel) and GPT-NeoX (GPTNeoXForCausalLM) model folders, written
/// from the conventions in the golden fixtures' READMEs (shared/fixtures/golden/{gpt2,gpt_neox}/README.md), with no
/// runtime code: it reads config.json and the tensors itself and loops over every product. Slow; for tiny models only.
/// </summary>
public sealed class ReferenceDecoder
{
    private readonly Dictionary<string, double[]> _w = new();
    private readonly string _type, _activation, _prefix;
    private readonly int _d, _layers, _heads, _inter, _vocab, _rotary;
    private readonly double _eps, _ropeBase;
    private readonly bool _parallel, _tied;

    public int Layers => _layers;
    public int Width => _d;
    public int Vocab => _vocab;

    public ReferenceDecoder(string directory)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
        var c = doc.RootElement;
        int Int(string name) => c.GetProperty(name).GetInt32();
        bool? Bool(string name) => c.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetBoolean() : null;
        _type = c.GetProperty("model_type").GetString()!;
        _vocab = Int("vocab_size");
        if (_type == "gpt2")
        {
            _d = Int("n_embd");
            _layers = Int("n_layer");
            _heads = Int("n_head");
            _inter = c.TryGetProperty("n_inner", out var inner) && inner.ValueKind == JsonValueKind.Number ? inner.GetInt32() : 4 * _d;
            _activation = c.TryGetProperty("activation_function", out var act) ? act.GetString()! : "gelu_new";
            _eps = c.GetProperty("layer_norm_epsilon").GetDouble();
            _tied = Bool("tie_word_embeddings") ?? true;
        }
        else if (_type == "gpt_neox")
        {
            _d = Int("hidden_size");
            _layers = Int("num_hidden_layers");
            _heads = Int("num_attention_heads");
            _inter = Int("intermediate_size");
            _activation = c.GetProperty("hidden_act").GetString()!;
            _eps = c.GetProperty("layer_norm_eps").GetDouble();
            _rotary = (int)(_d / _heads * c.GetProperty("rotary_pct").GetDouble());
            _ropeBase = c.GetProperty("rotary_emb_base").GetDouble();
            _parallel = Bool("use_parallel_residual") ?? true;
            _tied = Bool("tie_word_embeddings") ?? false;
        }
        else throw new NotSupportedException($"the reference covers gpt2 and gpt_neox, not {_type}.");

        using var file = SafetensorsFile.Open(Path.Combine(directory, "model.safetensors"));
        foreach (var t in file.Tensors) _w[t.Name] = Array.ConvertAll(file.ReadFloat32(t.Name), v => (double)v);
        _prefix = _type == "gpt2" && _w.ContainsKey("transformer.wte.weight") ? "transformer." : "";
    }

    /// <summary>One sequence from position 0: the residual after every block (slot 0 = embeddings) and all logits [T, vocab].</summary>
    public (double[][] Slots, double[] Logits) Forward(int[] ids)
    {
        int n = ids.Length, d = _d;
        var x = new double[n * d];
        string embedding = _type == "gpt2" ? _prefix + "wte.weight" : "gpt_neox.embed_in.weight";
        for (int t = 0; t < n; t++)
            for (int i = 0; i < d; i++)
                x[t * d + i] = W(embedding)[ids[t] * d + i] + (_type == "gpt2" ? W(_prefix + "wpe.weight")[t * d + i] : 0);
        var slots = new List<double[]> { (double[])x.Clone() };
        for (int l = 0; l < _layers; l++)
        {
            x = _type == "gpt2" ? Gpt2Block(l, x, n) : NeoxBlock(l, x, n);
            slots.Add((double[])x.Clone());
        }
        var final = LayerNorm(x, n, d, _type == "gpt2" ? _prefix + "ln_f" : "gpt_neox.final_layer_norm");
        string head = _tied ? embedding : _type == "gpt2" ? "lm_head.weight" : "embed_out.weight";
        return ([.. slots], Linear(final, n, d, W(head), null, _vocab, storedInOut: false));
    }

    // GPT-2: pre-LN blocks, Conv1D weights [in, out], c_attn output columns q | k | v (heads contiguous in each).
    private double[] Gpt2Block(int l, double[] x, int n)
    {
        string p = $"{_prefix}h.{l}.";
        int d = _d;
        var qkv = Conv1D(LayerNorm(x, n, d, p + "ln_1"), n, p + "attn.c_attn", d, 3 * d);
        double[] q = new double[n * d], k = new double[n * d], v = new double[n * d];
        for (int t = 0; t < n; t++)
            for (int i = 0; i < d; i++)
            {
                q[t * d + i] = qkv[t * 3 * d + i];
                k[t * d + i] = qkv[t * 3 * d + d + i];
                v[t * d + i] = qkv[t * 3 * d + 2 * d + i];
            }
        var mid = Add(x, Conv1D(CausalAttention(q, k, v, n), n, p + "attn.c_proj", d, d));
        var h = Conv1D(LayerNorm(mid, n, d, p + "ln_2"), n, p + "mlp.c_fc", d, _inter);
        for (int t = 0; t < n; t++) Activate(h.AsSpan(t * _inter, _inter), p + "mlp.ln");
        return Add(mid, Conv1D(h, n, p + "mlp.c_proj", _inter, d));
    }

    // GPT-NeoX: nn.Linear [out, in]; query_key_value output viewed as [heads, 3, head_dim]; partial rotate_half RoPE.
    private double[] NeoxBlock(int l, double[] x, int n)
    {
        string p = $"gpt_neox.layers.{l}.";
        if (_parallel) return Add(Add(x, NeoxAttention(p, x, n)), NeoxMlp(p, x, n));
        var mid = Add(x, NeoxAttention(p, x, n));
        return Add(mid, NeoxMlp(p, mid, n));
    }

    private double[] NeoxAttention(string p, double[] x, int n)
    {
        int d = _d, hd = d / _heads;
        var qkv = Linear(LayerNorm(x, n, d, p + "input_layernorm"), n, d, W(p + "attention.query_key_value.weight"),
            W(p + "attention.query_key_value.bias"), 3 * d, storedInOut: false);
        double[] q = new double[n * d], k = new double[n * d], v = new double[n * d];
        for (int t = 0; t < n; t++)
            for (int h = 0; h < _heads; h++)
                for (int i = 0; i < hd; i++)
                {
                    int source = t * 3 * d + h * 3 * hd + i, target = t * d + h * hd + i;
                    q[target] = qkv[source];
                    k[target] = qkv[source + hd];
                    v[target] = qkv[source + 2 * hd];
                }
        for (int t = 0; t < n; t++)
            for (int h = 0; h < _heads; h++)
            {
                Rotate(q.AsSpan(t * d + h * hd, hd), t);
                Rotate(k.AsSpan(t * d + h * hd, hd), t);
            }
        return Linear(CausalAttention(q, k, v, n), n, d, W(p + "attention.dense.weight"), W(p + "attention.dense.bias"), d, storedInOut: false);
    }

    private double[] NeoxMlp(string p, double[] x, int n)
    {
        var h = Linear(LayerNorm(x, n, _d, p + "post_attention_layernorm"), n, _d, W(p + "mlp.dense_h_to_4h.weight"),
            W(p + "mlp.dense_h_to_4h.bias"), _inter, storedInOut: false);
        for (int t = 0; t < n; t++) Activate(h.AsSpan(t * _inter, _inter), null);
        return Linear(h, n, _inter, W(p + "mlp.dense_4h_to_h.weight"), W(p + "mlp.dense_4h_to_h.bias"), _d, storedInOut: false);
    }

    /// <summary>rotate_half RoPE on the first rotary dims: pairs (i, i + r/2), inv_freq_i = base^(-2i/r).</summary>
    private void Rotate(Span<double> head, int position)
    {
        int half = _rotary / 2;
        for (int i = 0; i < half; i++)
        {
            double angle = position * Math.Pow(_ropeBase, -2.0 * i / _rotary);
            double cos = Math.Cos(angle), sin = Math.Sin(angle), x1 = head[i], x2 = head[i + half];
            head[i] = x1 * cos - x2 * sin;
            head[i + half] = x2 * cos + x1 * sin;
        }
    }

    private void Activate(Span<double> row, string? soluNorm)
    {
        switch (_activation)
        {
            case "gelu_new":
                foreach (ref double v in row) v = 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                break;
            case "gelu":
                foreach (ref double v in row) v = 0.5 * v * (1 + Erf(v / Math.Sqrt(2)));
                break;
            case "solu_ln":
                // SoLU: h · softmax(h) over the MLP width, then LayerNorm(h) with the block's mlp.ln weights.
                double max = double.NegativeInfinity, sum = 0;
                foreach (double v in row) max = Math.Max(max, v);
                foreach (double v in row) sum += Math.Exp(v - max);
                foreach (ref double v in row) v *= Math.Exp(v - max) / sum;
                LayerNormRow(row, W(soluNorm! + ".weight"), W(soluNorm! + ".bias"));
                break;
            default:
                throw new NotSupportedException($"activation {_activation}");
        }
    }

    private double[] W(string name) => _w.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"tensor {name} is not in the model.");

    private double[] Conv1D(double[] x, int n, string prefix, int inFeatures, int outFeatures) =>
        Linear(x, n, inFeatures, W(prefix + ".weight"), W(prefix + ".bias"), outFeatures, storedInOut: true);

    /// <summary>y = x·Wᵀ + b with W stored [out, in] (nn.Linear), or y = x·W + b with W stored [in, out] (Conv1D).</summary>
    private static double[] Linear(double[] x, int n, int inFeatures, double[] w, double[]? b, int outFeatures, bool storedInOut)
    {
        var y = new double[n * outFeatures];
        for (int t = 0; t < n; t++)
            for (int o = 0; o < outFeatures; o++)
            {
                double s = b?[o] ?? 0;
                for (int i = 0; i < inFeatures; i++)
                    s += x[t * inFeatures + i] * (storedInOut ? w[i * outFeatures + o] : w[o * inFeatures + i]);
                y[t * outFeatures + o] = s;
            }
        return y;
    }

    private double[] LayerNorm(double[] x, int n, int width, string prefix)
    {
        var y = (double[])x.Clone();
        for (int t = 0; t < n; t++) LayerNormRow(y.AsSpan(t * width, width), W(prefix + ".weight"), W(prefix + ".bias"));
        return y;
    }

    private void LayerNormRow(Span<double> row, double[] weight, double[] bias)
    {
        double mean = 0, variance = 0;
        foreach (double v in row) mean += v;
        mean /= row.Length;
        foreach (double v in row) variance += (v - mean) * (v - mean);
        variance /= row.Length;
        double scale = 1 / Math.Sqrt(variance + _eps);
        for (int i = 0; i < row.Length; i++) row[i] = (row[i] - mean) * scale * weight[i] + bias[i];
    }

    /// <summary>Causal softmax(q·kᵀ / √head_dim)·v per head; q, k, v and the result are [T, heads·head_dim].</summary>
    private double[] CausalAttention(double[] q, double[] k, double[] v, int n)
    {
        int d = _d, hd = d / _heads;
        var output = new double[n * d];
        var scores = new double[n];
        for (int h = 0; h < _heads; h++)
            for (int t = 0; t < n; t++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int j = 0; j <= t; j++)
                {
                    double s = 0;
                    for (int i = 0; i < hd; i++) s += q[t * d + h * hd + i] * k[j * d + h * hd + i];
                    scores[j] = s / Math.Sqrt(hd);
                    max = Math.Max(max, scores[j]);
                }
                for (int j = 0; j <= t; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                for (int j = 0; j <= t; j++)
                    for (int i = 0; i < hd; i++) output[t * d + h * hd + i] += scores[j] / sum * v[j * d + h * hd + i];
            }
        return output;
    }

    private static double[] Add(double[] a, double[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    /// <summary>erf to ~1e-15: Maclaurin series for |x| &lt; 2.5, the erfc continued fraction beyond.</summary>
    public static double Erf(double x)
    {
        double z = Math.Abs(x);
        if (z < 2.5)
        {
            double term = z, sum = z;
            for (int k = 1; k < 100 && Math.Abs(term) > 1e-17 * Math.Abs(sum); k++)
            {
                term *= -z * z / k;
                sum += term / (2 * k + 1);
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        double fraction = z; // erfc(z) = exp(-z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
        for (int k = 80; k >= 1; k--) fraction = z + k / 2.0 / fraction;
        return Math.Sign(x) * (1 - Math.Exp(-z * z) / Math.Sqrt(Math.PI) / fraction);
    }
}
