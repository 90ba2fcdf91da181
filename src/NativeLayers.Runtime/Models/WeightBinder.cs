using System.Runtime.CompilerServices;
using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>
/// Looks tensors up by name and checks their dtype and shape against what the config implies. Names are tried
/// under each of the recipe's prefixes (e.g. "transformer." and "" for GPT-2), and LayerNorm weights also under
/// their legacy gamma/beta names. Tensors that need another layout (Conv1D transposes, per-head interleaving)
/// are copied once, in their stored dtype, into buffers the model keeps.
/// </summary>
public sealed unsafe class WeightBinder(WeightStore store, ModelConfig config, params string[] prefixes)
{
    private readonly string[] _prefixes = prefixes.Length == 0 ? [""] : prefixes;
    private readonly List<object> _owned = [];
    private readonly HashSet<string> _used = [];

    /// <summary>Buffers that checkpoints save but no forward pass reads (rotary caches, causal-mask buffers, position ids).</summary>
    public static readonly IReadOnlyList<string> KnownBuffers =
        ["*.rotary_emb.inv_freq", "*.attn.bias", "*.attn.masked_bias", "*.attention.bias", "*.attention.masked_bias", "*.position_ids"];

    public WeightStore Store { get; } = store;
    public IReadOnlyList<object> OwnedBuffers => _owned;

    public bool Has(string name) => Resolve(name) != null;

    private string? Resolve(string name)
    {
        foreach (var prefix in _prefixes)
        {
            if (Store.Contains(prefix + name)) return prefix + name;
            string legacy = name.EndsWith(".weight") ? name[..^7] + ".gamma" : name.EndsWith(".bias") ? name[..^5] + ".beta" : name;
            if (legacy != name && name.Contains("LayerNorm") && Store.Contains(prefix + legacy)) return prefix + legacy;
        }
        return null;
    }

    public TensorRef Tensor(string name, params long[] expectedShape)
    {
        string found = Resolve(name) ?? throw new ModelFileException(Store.Description,
            $"tensor '{name}' is missing (needed for model_type '{config.ModelType}'{(_prefixes.Length > 1 || _prefixes[0] != "" ? $"; tried prefixes {string.Join(", ", _prefixes.Select(p => $"'{p}'"))}" : "")}).");
        var tensor = Store.Get(found);
        _used.Add(found);
        if (!tensor.Shape.SequenceEqual(expectedShape))
            throw new ModelFileException(tensor.File.Path,
                $"tensor '{found}' has shape {tensor.Info.ShapeText}, but config.json implies [{string.Join(", ", expectedShape)}].");
        if (tensor.DType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ModelFileException(tensor.File.Path, $"tensor '{found}' is {tensor.DType}; weights must be F32, F16 or BF16.");
        return tensor;
    }

    public WeightMatrix Matrix(string name, int rows, int cols)
    {
        var t = Tensor(name, rows, cols);
        return new WeightMatrix(t.Pointer, t.DType, rows, cols);
    }

    /// <summary>A Conv1D weight stored [in, out], returned as an [out, in] matrix.</summary>
    public WeightMatrix TransposedMatrix(string name, int inFeatures, int outFeatures)
    {
        var t = Tensor(name, inFeatures, outFeatures);
        int size = t.DType.SizeOf();
        byte* source = t.Pointer;
        byte* target = Allocate((long)inFeatures * outFeatures * size);
        for (int i = 0; i < inFeatures; i++)
            for (int o = 0; o < outFeatures; o++)
                Buffer.MemoryCopy(source + ((long)i * outFeatures + o) * size, target + ((long)o * inFeatures + i) * size, size, size);
        return new WeightMatrix(target, t.DType, outFeatures, inFeatures);
    }

    /// <summary>A matrix whose row r is the stored row sourceRow(r).</summary>
    public WeightMatrix PermutedRows(string name, int rows, int cols, Func<int, int> sourceRow)
    {
        var t = Tensor(name, rows, cols);
        long rowBytes = (long)cols * t.DType.SizeOf();
        byte* target = Allocate(rows * rowBytes);
        for (int r = 0; r < rows; r++)
            Buffer.MemoryCopy(t.Pointer + sourceRow(r) * rowBytes, target + r * rowBytes, rowBytes, rowBytes);
        return new WeightMatrix(target, t.DType, rows, cols);
    }

    private byte* Allocate(long bytes)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(checked((int)bytes), pinned: true);
        _owned.Add(buffer);
        return (byte*)Unsafe.AsPointer(ref buffer[0]);
    }

    public float[] Floats(string name, int length)
    {
        var t = Tensor(name, length);
        return t.File.ReadFloat32(t.Name);
    }

    /// <summary>A tensor of any rank as float32, row-major (small parameters such as conv taps).</summary>
    public float[] FloatTensor(string name, params long[] shape)
    {
        var t = Tensor(name, shape);
        return t.File.ReadFloat32(t.Name);
    }

    public PinnedBuffer Vector(string name, int length, float offset = 0)
    {
        var values = Floats(name, length);
        if (offset != 0) for (int i = 0; i < values.Length; i++) values[i] += offset;
        return new PinnedBuffer(values);
    }

    /// <summary>Several bias vectors concatenated (q, k, v biases into the fused projection's bias).</summary>
    public PinnedBuffer Concat(params (string Name, int Length)[] parts) =>
        new(parts.SelectMany(p => Floats(p.Name, p.Length)).ToArray());

    public NormWeights LayerNorm(string prefix, int width) => new(Vector(prefix + ".weight", width), Vector(prefix + ".bias", width));

    public Linear Linear(string prefix, int outFeatures, int inFeatures, bool bias = true) =>
        new([Matrix(prefix + ".weight", outFeatures, inFeatures)], bias ? Vector(prefix + ".bias", outFeatures) : null);

    /// <summary>
    /// Tensors of the store that nothing bound and no pattern excuses ("*.suffix", "prefix.*" or an exact name):
    /// more layers than the config says, another architecture's weights, or a file that is not what config.json describes.
    /// </summary>
    public IReadOnlyList<TensorRef> Unused(IEnumerable<string> ignorable)
    {
        var patterns = ignorable.ToArray();
        return Store.Tensors.Where(t => !_used.Contains(t.Name) && !patterns.Any(p => Matches(t.Name, p))).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
    }

    private static bool Matches(string name, string pattern) =>
        pattern.StartsWith('*') ? name.EndsWith(pattern[1..], StringComparison.Ordinal)
        : pattern.EndsWith('*') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal)
        : name == pattern;
}
