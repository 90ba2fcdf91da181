using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeLayers.Backends.Cpu;

/// <summary>
/// The vector operations the hot kernels need, over one vector width. Kernels are generic over an implementing
/// struct, so the JIT emits a specialised copy per width (Vector512 where AVX-512 is present, Vector256 otherwise).
/// </summary>
internal unsafe interface ISimdOps<TV> where TV : struct
{
    static abstract int Lanes { get; }
    static abstract TV Zero { get; }
    static abstract TV Load(float* p);
    static abstract void Store(float* p, TV v);
    static abstract TV LoadBf16(ushort* p);
    static abstract TV LoadF16(ushort* p);
    static abstract TV Broadcast(float value);
    static abstract TV Fma(TV a, TV b, TV c);
    static abstract TV Add(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    static abstract float Sum(TV v);
}

internal unsafe struct Simd512 : ISimdOps<Vector512<float>>
{
    public static int Lanes => 16;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector512<float> v) => v.Store(p);
    // vpmovzxwd with a memory operand widens 16 half words in one instruction (Vector512 is only used with AVX-512F).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadBf16(ushort* p) => Vector512.ShiftLeft(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadF16(ushort* p) => HalfBits.ToSingle(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector512.Sum(v);
}

internal unsafe struct Simd256 : ISimdOps<Vector256<float>>
{
    public static int Lanes => 8;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadBf16(ushort* p) => Vector256.ShiftLeft(Widen(p), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadF16(ushort* p) => HalfBits.ToSingle(Widen(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Widen(ushort* p) => Avx2.IsSupported
        ? Avx2.ConvertToVector256Int32(Vector128.Load(p)).AsUInt32()
        : Vector256.WidenLower(Vector256.Create(Vector128.Load(p), Vector128<ushort>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
}

/// <summary>IEEE half → single by bit manipulation (.NET exposes no F16C intrinsic).</summary>
internal static class HalfBits
{
    private static readonly float Scale = BitConverter.Int32BitsToSingle(0x77800000); // 2^112 re-biases the exponent

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToSingle(Vector512<uint> h)
    {
        var magnitude = h & Vector512.Create(0x7fffu);
        var shifted = Vector512.ShiftLeft(magnitude, 13);
        var value = shifted.AsSingle() * Vector512.Create(Scale);                 // normals and subnormals
        var infNan = Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(0x7c00u));
        value = Vector512.ConditionalSelect(infNan.AsSingle(), (shifted | Vector512.Create(0x7f800000u)).AsSingle(), value);
        return (value.AsUInt32() | Vector512.ShiftLeft(h & Vector512.Create(0x8000u), 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<uint> h)
    {
        var magnitude = h & Vector256.Create(0x7fffu);
        var shifted = Vector256.ShiftLeft(magnitude, 13);
        var value = shifted.AsSingle() * Vector256.Create(Scale);
        var infNan = Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x7c00u));
        value = Vector256.ConditionalSelect(infNan.AsSingle(), (shifted | Vector256.Create(0x7f800000u)).AsSingle(), value);
        return (value.AsUInt32() | Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16)).AsSingle();
    }
}
