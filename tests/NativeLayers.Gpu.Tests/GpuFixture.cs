

using NativeLayers.Backends.Gpu.Kernels;

namespace NativeLayers.Backends.Gpu.Kernels.Tests;

/// <summary>One ILGPU CPU accelerator (warp 4, groups of 16) shared by the kernel tests, which run one at a time.</summary>
public sealed class CpuDeviceFixture : IDisposable
{
    public GpuDevice Device { get; } = new(DeviceKind.IlgpuCpu);
    public void Dispose() => Device.Dispose();
}

[CollectionDefinition("ilgpu-cpu")]
public sealed class CpuDeviceCollection : ICollectionFixture<CpuDeviceFixture>;

internal static class TestData
{
    public static float[] Random(Random rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    public static ushort ToBf16(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    public static float FromBf16(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);
    public static ushort ToF16(float v) => BitConverter.HalfToUInt16Bits((System.Half)v);
    public static float FromF16(ushort b) => (float)BitConverter.UInt16BitsToHalf(b);

    /// <summary>Weights in a dtype as raw bytes, plus their exact float values.</summary>
    public static (byte[] Bytes, float[] Values) Weights(Random rng, int n, NativeLayers.Loading.DType dtype, float scale = 1f)
    {
        var f = Random(rng, n, scale);
        switch (dtype)
        {
            case NativeLayers.Loading.DType.F32:
                return (System.Runtime.InteropServices.MemoryMarshal.AsBytes(f.AsSpan()).ToArray(), f);
            case NativeLayers.Loading.DType.F16:
            {
                var u = f.Select(ToF16).ToArray();
                return (System.Runtime.InteropServices.MemoryMarshal.AsBytes(u.AsSpan()).ToArray(), u.Select(FromF16).ToArray());
            }
            default:
            {
                var u = f.Select(ToBf16).ToArray();
                return (System.Runtime.InteropServices.MemoryMarshal.AsBytes(u.AsSpan()).ToArray(), u.Select(FromBf16).ToArray());
            }
        }
    }

    public static void Close(float[] expected, float[] actual, double tolerance, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double err = Math.Abs(e - a) / Math.Max(1.0, Math.Abs(e));
            if (!(err <= tolerance)) Assert.Fail($"{what}[{i}]: expected {e}, got {a} (err {err:g3} > {tolerance:g3})");
        }
    }
}
