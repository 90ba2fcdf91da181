using System.Runtime.CompilerServices;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Cpu;

/// <summary>How to load one vector of weights of a stored dtype as float32 (specialised per dtype by the JIT).</summary>
internal unsafe interface IWeightKind
{
    static abstract int ElementSize { get; }
    static abstract TV Load<TOps, TV>(byte* row, int index) where TOps : struct, ISimdOps<TV> where TV : struct;
    static abstract float LoadScalar(byte* row, int index);
}

internal unsafe struct F32Weights : IWeightKind
{
    public static int ElementSize => 4;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load<TOps, TV>(byte* row, int index) where TOps : struct, ISimdOps<TV> where TV : struct => TOps.Load((float*)row + index);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadScalar(byte* row, int index) => ((float*)row)[index];
}

internal unsafe struct Bf16Weights : IWeightKind
{
    public static int ElementSize => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load<TOps, TV>(byte* row, int index) where TOps : struct, ISimdOps<TV> where TV : struct => TOps.LoadBf16((ushort*)row + index);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadScalar(byte* row, int index) => BitConverter.Int32BitsToSingle(((ushort*)row)[index] << 16);
}

internal unsafe struct F16Weights : IWeightKind
{
    public static int ElementSize => 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load<TOps, TV>(byte* row, int index) where TOps : struct, ISimdOps<TV> where TV : struct => TOps.LoadF16((ushort*)row + index);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadScalar(byte* row, int index) => (float)((Half*)row)[index];
}

/// <summary>Bulk conversion of stored weights to float32.</summary>
public static unsafe class WeightConversion
{
    public static void ToFloat32(byte* source, DType dtype, float* destination, int count)
    {
        if (Simd.Use512) Convert<Simd512, System.Runtime.Intrinsics.Vector512<float>>(source, dtype, destination, count);
        else Convert<Simd256, System.Runtime.Intrinsics.Vector256<float>>(source, dtype, destination, count);
    }

    private static void Convert<TOps, TV>(byte* source, DType dtype, float* destination, int count)
        where TOps : struct, ISimdOps<TV> where TV : struct
    {
        switch (dtype)
        {
            case DType.F32: Buffer.MemoryCopy(source, destination, (long)count * 4, (long)count * 4); break;
            case DType.BF16: Convert<TOps, TV, Bf16Weights>(source, destination, count); break;
            case DType.F16: Convert<TOps, TV, F16Weights>(source, destination, count); break;
            default: throw new NativeLayersException($"cannot convert {dtype} weights to float32.");
        }
    }

    private static void Convert<TOps, TV, TW>(byte* source, float* destination, int count)
        where TOps : struct, ISimdOps<TV> where TV : struct where TW : struct, IWeightKind
    {
        int i = 0;
        for (; i + TOps.Lanes <= count; i += TOps.Lanes) TOps.Store(destination + i, TW.Load<TOps, TV>(source, i));
        for (; i < count; i++) destination[i] = TW.LoadScalar(source, i);
    }
}

internal static class Simd
{
    /// <summary>Vector512 kernels when the CPU runs them natively; Vector256 otherwise (can be forced off for tests).</summary>
    public static bool Use512 { get; set; } = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
}
