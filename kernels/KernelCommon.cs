using ILGPU;
using ILGPU.Algorithms;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>How a weight matrix element is stored on the device and widened to float32 inside kernels.</summary>
public interface IWeightFormat<TStore> where TStore : unmanaged
{
    float ToFloat(TStore value);
}

/// <summary>F32 weights, stored as float.</summary>
public struct F32Format : IWeightFormat<float>
{
    public readonly float ToFloat(float value) => value;
}

/// <summary>IEEE half weights, stored as their 16 raw bits (ushort).</summary>
public struct F16Format : IWeightFormat<ushort>
{
    public readonly float ToFloat(ushort value) => (float)Interop.IntAsFloat(value);
}

/// <summary>bfloat16 weights, stored as their 16 raw bits (ushort): the upper half of a float32.</summary>
public struct Bf16Format : IWeightFormat<ushort>
{
    public readonly float ToFloat(ushort value) => Interop.IntAsFloat((uint)value << 16);
}

/// <summary>Warp and group reductions shared by the kernels. Valid for any warp size and for 1-D groups of at most warpSize² threads.</summary>
internal static class Reduce
{
    public static float WarpSum(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
            value += Warp.ShuffleXor(value, offset);
        return value;
    }

    public static float WarpMax(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
        {
            float other = Warp.ShuffleXor(value, offset);
            value = other > value ? other : value;
        }
        return value;
    }

    /// <summary>
    /// A softmax's two reductions over one row, across the 1-D group: the max of values[row + c] for c &lt; width, and
    /// 1 / Σ exp((values − max) · scale). Every thread gets both.
    /// </summary>
    public static float RowMax(ArrayView<float> values, long row, int width, float scale, ArrayView<float> scratch, out float inverseSum)
    {
        float max = float.NegativeInfinity;
        for (int c = Group.IdxX; c < width; c += Group.DimX)
        {
            float v = values[row + c];
            max = v > max ? v : max;
        }
        max = GroupMax(max, scratch);
        float sum = 0f;
        for (int c = Group.IdxX; c < width; c += Group.DimX) sum += XMath.Exp((values[row + c] - max) * scale);
        inverseSum = 1f / GroupSum(sum, scratch);
        return max;
    }

    /// <summary>Sum over the 1-D group; every thread gets the total. <paramref name="scratch"/> is shared memory of ≥ 32 floats.</summary>
    public static float GroupSum(float value, ArrayView<float> scratch)
    {
        value = WarpSum(value);
        if (Warp.IsFirstLane) scratch[Warp.WarpIdx] = value;
        Group.Barrier();
        int warps = Group.DimX / Warp.WarpSize;
        float total = Warp.LaneIdx < warps ? scratch[Warp.LaneIdx] : 0f;
        total = WarpSum(total);
        Group.Barrier();
        return total;
    }

    /// <summary>Max over the 1-D group; every thread gets it. <paramref name="scratch"/> is shared memory of ≥ 32 floats.</summary>
    public static float GroupMax(float value, ArrayView<float> scratch)
    {
        value = WarpMax(value);
        if (Warp.IsFirstLane) scratch[Warp.WarpIdx] = value;
        Group.Barrier();
        int warps = Group.DimX / Warp.WarpSize;
        float total = Warp.LaneIdx < warps ? scratch[Warp.LaneIdx] : float.NegativeInfinity;
        total = WarpMax(total);
        Group.Barrier();
        return total;
    }
}
