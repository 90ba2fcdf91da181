using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>Looks tensors up by name and checks their dtype and shape against what the config implies.</summary>
public sealed unsafe class WeightBinder(WeightStore store, ModelConfig config)
{
    public WeightStore Store { get; } = store;

    public bool Has(string name) => Store.Contains(name);

    public TensorRef Tensor(string name, params long[] expectedShape)
    {
        if (!Store.TryGet(name, out var tensor))
            throw new ModelFileException(Store.Description, $"tensor '{name}' is missing (needed for model_type '{config.ModelType}').");
        if (!tensor.Shape.SequenceEqual(expectedShape))
            throw new ModelFileException(tensor.File.Path,
                $"tensor '{name}' has shape {tensor.Info.ShapeText}, but config.json implies [{string.Join(", ", expectedShape)}].");
        if (!tensor.DType.IsFloat() || tensor.DType == DType.F64)
            throw new ModelFileException(tensor.File.Path, $"tensor '{name}' is {tensor.DType}; weights must be F32, F16 or BF16.");
        return tensor;
    }

    public WeightMatrix Matrix(string name, int rows, int cols)
    {
        var t = Tensor(name, rows, cols);
        return new WeightMatrix(t.Pointer, t.DType, rows, cols);
    }

    public PinnedBuffer Vector(string name, int length, float offset = 0)
    {
        var t = Tensor(name, length);
        var values = t.File.ReadFloat32(name);
        if (offset != 0) for (int i = 0; i < values.Length; i++) values[i] += offset;
        return new PinnedBuffer(values);
    }

    /// <summary>Several bias vectors concatenated (q, k, v biases into the fused projection's bias).</summary>
    public PinnedBuffer Concat(params (string Name, int Length)[] parts)
    {
        var all = new List<float>();
        foreach (var (name, length) in parts)
        {
            Tensor(name, length);
            all.AddRange(Store.Get(name).File.ReadFloat32(name));
        }
        return new PinnedBuffer(all.ToArray());
    }
}
