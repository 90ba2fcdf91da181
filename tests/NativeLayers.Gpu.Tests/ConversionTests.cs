using NativeLayers.Backends.Gpu.Kernels;

namespace NativeLayers.Backends.Gpu.Kernels.Tests;

/// <summary>The tensor-core kernel's float → 16-bit packing (runs the same code as the kernels, on the host).</summary>
public sealed class ConversionTests
{
    [Fact]
    public void F16_packing_rounds_to_nearest_even_like_System_Half()
    {
        var rng = new Random(12);
        var format = default(F16Mma);
        float[] special = [0f, -0f, 1e-8f, -3e-6f, 6.1e-5f, 65504f, 65519f, 65520f, -70000f, float.PositiveInfinity, 1f / 3f];
        var values = special.Concat(Enumerable.Range(0, 20000).Select(i => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-26, 17)))));
        foreach (float v in values)
        {
            uint packed = format.Pack(v, -v);
            Assert.Equal(BitConverter.HalfToUInt16Bits((System.Half)v), (ushort)(packed & 0xFFFF));
            Assert.Equal(BitConverter.HalfToUInt16Bits((System.Half)(-v)), (ushort)(packed >> 16));
        }
    }

    [Fact]
    public void Bf16_packing_rounds_to_nearest_even()
    {
        var rng = new Random(13);
        var format = default(Bf16Mma);
        for (int i = 0; i < 20000; i++)
        {
            float v = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-40, 40)));
            uint packed = format.Pack(v, v * 3);
            double exact = v, rounded = TestData.FromBf16((ushort)(packed & 0xFFFF));
            double ulp = Math.Abs(BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits((float)rounded) + 0x10000) - rounded);
            Assert.True(Math.Abs(exact - rounded) <= ulp / 2, $"{v}: {rounded}");
            Assert.Equal(TestData.ToBf16(v * 3), (ushort)(packed >> 16));
        }
    }
}
