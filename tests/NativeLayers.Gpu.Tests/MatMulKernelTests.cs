using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.Backends.Gpu.Kernels;
using NativeLayers.Loading;
using static NativeLayers.Backends.Gpu.Kernels.Tests.TestData;

namespace NativeLayers.Backends.Gpu.Kernels.Tests;

[Collection("ilgpu-cpu")]
public sealed unsafe class MatMulKernelTests(CpuDeviceFixture fixture)
{
    private readonly GpuDevice _gpu = fixture.Device;

    internal static float[] CpuLinear(float[] x, int xStride, int rows, byte[] w, DType dtype, int outF, int inF, float[]? bias, float[] y, int yStride, bool accumulate)
    {
        var result = (float[])y.Clone();
        using var pool = new WorkerPool(1);
        fixed (float* px = x, pb = bias, py = result)
        fixed (byte* pw = w)
            MatMul.Run(pool, px, xStride, rows, new WeightMatrix(pw, dtype, outF, inF), pb, py, yStride, accumulate);
        return result;
    }

    public static TheoryData<DType, MatMulPath, int, int, int, bool, bool> Cases()
    {
        var data = new TheoryData<DType, MatMulPath, int, int, int, bool, bool>();
        foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            data.Add(dtype, MatMulPath.MatVec, 1, 37, 45, true, false);
            data.Add(dtype, MatMulPath.MatVec, 6, 19, 70, false, true);    // two row blocks, the second partial
            data.Add(dtype, MatMulPath.Tiled, 7, 37, 23, true, true);      // odd sizes, partial tiles, K tail
            data.Add(dtype, MatMulPath.Tiled, 20, 33, 16, false, false);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Linear_matches_cpu_backend(DType dtype, MatMulPath path, int rows, int inF, int outF, bool withBias, bool accumulate)
    {
        var rng = new Random(rows * 1000 + inF * 10 + outF);
        int xStride = inF + 2, yStride = outF + 3;
        var x = Random(rng, rows * xStride);
        var (w, _) = Weights(rng, outF * inF, dtype, 0.5f);
        var bias = withBias ? Random(rng, outF) : null;
        var y = Random(rng, rows * yStride);
        var expected = CpuLinear(x, xStride, rows, w, dtype, outF, inF, bias, y, yStride, accumulate);

        using var gw = _gpu.UploadMatrix(w, dtype, outF, inF);
        using var bx = _gpu.Upload<float>(x);
        using var bb = _gpu.Upload<float>(bias ?? []);
        using var by = _gpu.Upload<float>(y);
        _gpu.MatMul(bx.View, xStride, rows, gw, withBias ? bb.View : default, by.View, yStride, accumulate, path);
        Close(expected, _gpu.Download<float>(by.View), 2e-5, $"{dtype}/{path}");
    }

    [Fact]
    public void Auto_path_picks_a_kernel_and_gives_the_same_result()
    {
        var rng = new Random(11);
        int rows = 9, inF = 24, outF = 10;
        var x = Random(rng, rows * inF);
        var (w, _) = Weights(rng, outF * inF, DType.BF16);
        var expected = CpuLinear(x, inF, rows, w, DType.BF16, outF, inF, null, new float[rows * outF], outF, false);
        using var gw = _gpu.UploadMatrix(w, DType.BF16, outF, inF);
        using var bx = _gpu.Upload<float>(x);
        using var by = _gpu.Allocate<float>(rows * outF);
        _gpu.MatMul(bx.View, inF, rows, gw, default, by.View, outF);
        Close(expected, _gpu.Download<float>(by.View), 2e-5, "auto");
    }

    [Fact]
    public void UploadMatrix_rejects_wrong_sizes_and_dtypes()
    {
        Assert.Throws<NativeLayersException>(() => _gpu.UploadMatrix(new byte[10], DType.F32, 2, 2));
        Assert.Throws<NativeLayersException>(() => _gpu.UploadMatrix(new byte[4], DType.I8, 2, 2));
    }
}

/// <summary>
/// The tensor-core kernel on a CPU device shaped like a GPU (warp 32, 128-thread groups): inline PTX is unavailable
/// there, so each mma.sync is emulated by FMA from the same register fragments exchanged with warp shuffles. That checks
/// the fragment packing and the tile bookkeeping against a reference that rounds x to the same 16-bit type.
/// </summary>
public sealed class TensorCoreKernelTests : IDisposable
{
    private readonly GpuDevice _gpu = new(DeviceKind.IlgpuCpuWarp32);

    public void Dispose() => _gpu.Dispose();

    [Theory]
    [InlineData(DType.BF16, 20, 37, 70, true, false)]
    [InlineData(DType.F16, 65, 32, 9, false, true)]
    public void TensorCore_matches_reference_with_rounded_inputs(DType dtype, int rows, int inF, int outF, bool withBias, bool accumulate)
    {
        Assert.True(_gpu.TensorCoresSupported);
        var rng = new Random(rows + inF + outF);
        int xStride = inF + 1, yStride = outF + 2;
        var x = TestData.Random(rng, rows * xStride, 2f);
        var (w, wv) = TestData.Weights(rng, outF * inF, dtype, 0.5f);
        var bias = withBias ? TestData.Random(rng, outF) : null;
        var y = TestData.Random(rng, rows * yStride);
        Func<float, float> round = dtype == DType.BF16 ? v => TestData.FromBf16(TestData.ToBf16(v)) : v => TestData.FromF16(TestData.ToF16(v));
        var expected = (float[])y.Clone();
        for (int t = 0; t < rows; t++)
            for (int o = 0; o < outF; o++)
            {
                double s = 0;
                for (int k = 0; k < inF; k++) s += round(x[t * xStride + k]) * (double)wv[o * inF + k];
                if (bias != null) s += bias[o];
                expected[t * yStride + o] = (float)(accumulate ? y[t * yStride + o] + s : s);
            }
        using var gw = _gpu.UploadMatrix(w, dtype, outF, inF);
        using var bx = _gpu.Upload<float>(x);
        using var bb = _gpu.Upload<float>(bias ?? []);
        using var by = _gpu.Upload<float>(y);
        _gpu.MatMul(bx.View, xStride, rows, gw, withBias ? bb.View : default, by.View, yStride, accumulate, MatMulPath.TensorCore);
        TestData.Close(expected, _gpu.Download<float>(by.View), 2e-5, $"mma {dtype}");

        // and, loosely, against the CPU backend (which keeps x in float32)
        var cpu = MatMulKernelTests.CpuLinear(x, xStride, rows, w, dtype, outF, inF, bias, y, yStride, accumulate);
        TestData.Close(cpu, _gpu.Download<float>(by.View), dtype == DType.BF16 ? 5e-2 : 5e-3, $"mma {dtype} vs cpu");
    }
}
