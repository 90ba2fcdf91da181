using System.Runtime.CompilerServices;

namespace NativeLayers.Backends;

/// <summary>A float array on the pinned heap, so kernels can take its address without fixed blocks.</summary>
public sealed unsafe class PinnedBuffer
{
    public float[] Array { get; }
    public float* Pointer { get; }
    public int Length => Array.Length;

    public PinnedBuffer(int length, bool clear = false)
    {
        Array = clear ? GC.AllocateArray<float>(length, pinned: true) : GC.AllocateUninitializedArray<float>(length, pinned: true);
        Pointer = length == 0 ? null : (float*)Unsafe.AsPointer(ref Array[0]);
    }

    public PinnedBuffer(float[] values) : this(values.Length) => values.CopyTo(Array, 0);

    public Span<float> Span => Array;
}
