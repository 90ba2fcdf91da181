using ILGPU;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Shape of a residual-add launch. All buffers are row-major with their own row strides (in floats).</summary>
public struct ResidualDims
{
    public int Rows;
    public int Width;
    public int TargetStride;
    public int ResidualStride;
    public int DeltaStride;
    /// <summary>0: no delta (target = residual + steering).</summary>
    public int HasDelta;
    /// <summary>Steering entries per row (0 = no steering; the index/coef views are then unused).</summary>
    public int EntriesPerRow;
}

/// <summary>The residual add with fused steering, and in-place direction ablation (projection out).</summary>
public static class ResidualKernels
{
    /// <summary>
    /// target[r, c] = residual[r, c] + delta[r, c] + Σ_e coefs[r, e] · table[indices[r, e], c], e &lt; EntriesPerRow,
    /// skipping entries whose index is −1. table is [vectors, Width]; indices and coefs are [Rows, EntriesPerRow].
    /// target may alias residual or delta (elementwise). One thread per element (index = r·Width + c).
    /// </summary>
    public static void AddSteered(Index1D index, ArrayView<float> target, ArrayView<float> residual, ArrayView<float> delta,
        ArrayView<int> indices, ArrayView<float> coefs, ArrayView<float> table, ResidualDims dims)
    {
        int r = index / dims.Width;
        int c = index - r * dims.Width;
        float v = residual[(long)r * dims.ResidualStride + c];
        if (dims.HasDelta != 0) v += delta[(long)r * dims.DeltaStride + c];
        int entries = dims.EntriesPerRow;
        for (int e = 0; e < entries; e++)
        {
            int slot = r * entries + e;
            int vector = indices[slot];
            if (vector >= 0) v += coefs[slot] * table[(long)vector * dims.Width + c];
        }
        target[(long)r * dims.TargetStride + c] = v;
    }

    /// <summary>
    /// In place, row r with u = directions[rowDirection[r]] (skipped when the index is −1):
    /// x[r] = x[r] − (x[r]·u / u·u) · u (removes the component along u; u need not be unit). Grid = rows, 1-D group.
    /// </summary>
    public static void ProjectOut(ArrayView<float> x, int stride, int width, ArrayView<float> directions, ArrayView<int> rowDirection)
    {
        var scratch = SharedMemory.Allocate<float>(32);
        int dir = rowDirection[Grid.IdxX];
        if (dir < 0) return;
        long row = (long)Grid.IdxX * stride, u0 = (long)dir * width;
        float xu = 0f, uu = 0f;
        for (int c = Group.IdxX; c < width; c += Group.DimX)
        {
            float u = directions[u0 + c];
            xu += x[row + c] * u;
            uu += u * u;
        }
        xu = Reduce.GroupSum(xu, scratch);
        uu = Reduce.GroupSum(uu, scratch);
        if (uu <= 0f) return;
        float k = xu / uu;
        for (int c = Group.IdxX; c < width; c += Group.DimX)
            x[row + c] = x[row + c] - k * directions[u0 + c];
    }
}
