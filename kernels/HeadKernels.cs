using ILGPU;
using ILGPU.Algorithms;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>The model head's last steps over logits rows: greedy argmax and softmax with temperature.</summary>
public static class HeadKernels
{
    /// <summary>result[r] = index of the first maximum of logits[r, 0..width) (ties → lowest index). Grid = rows, 1-D group.</summary>
    public static void Argmax(ArrayView<float> logits, int stride, int width, ArrayView<int> result)
    {
        var bestValues = SharedMemory.Allocate<float>(32);
        var bestIndices = SharedMemory.Allocate<int>(32);
        long row = (long)Grid.IdxX * stride;
        float best = float.NegativeInfinity;
        int bestIndex = int.MaxValue;
        for (int c = Group.IdxX; c < width; c += Group.DimX)
        {
            float v = logits[row + c];
            if (v > best) { best = v; bestIndex = c; }   // strictly greater: the first hit per thread wins
        }
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
            Combine(ref best, ref bestIndex, Warp.ShuffleXor(best, offset), Warp.ShuffleXor(bestIndex, offset));
        if (Warp.IsFirstLane) { bestValues[Warp.WarpIdx] = best; bestIndices[Warp.WarpIdx] = bestIndex; }
        Group.Barrier();
        if (Warp.WarpIdx == 0)
        {
            int warps = Group.DimX / Warp.WarpSize;
            best = Warp.LaneIdx < warps ? bestValues[Warp.LaneIdx] : float.NegativeInfinity;
            bestIndex = Warp.LaneIdx < warps ? bestIndices[Warp.LaneIdx] : int.MaxValue;
            for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
                Combine(ref best, ref bestIndex, Warp.ShuffleXor(best, offset), Warp.ShuffleXor(bestIndex, offset));
            if (Warp.IsFirstLane) result[Grid.IdxX] = bestIndex == int.MaxValue ? 0 : bestIndex;
        }
    }

    private static void Combine(ref float best, ref int bestIndex, float other, int otherIndex)
    {
        if (other > best || (other == best && otherIndex < bestIndex)) { best = other; bestIndex = otherIndex; }
    }

    /// <summary>
    /// probs[r, c] = exp((logits[r, c] − max) / T) / Σ exp(...) with T = temperature &gt; 0 (numerically stable). probs may
    /// alias logits. Grid = rows, 1-D group.
    /// </summary>
    public static void Softmax(ArrayView<float> logits, int stride, ArrayView<float> probs, int probsStride, int width, float temperature)
    {
        var scratch = SharedMemory.Allocate<float>(32);
        long row = (long)Grid.IdxX * stride, outRow = (long)Grid.IdxX * probsStride;
        float inv = 1f / temperature;
        float max = Reduce.RowMax(logits, row, width, inv, scratch, out float norm);
        for (int c = Group.IdxX; c < width; c += Group.DimX)
            probs[outRow + c] = XMath.Exp((logits[row + c] - max) * inv) * norm;
    }
}
