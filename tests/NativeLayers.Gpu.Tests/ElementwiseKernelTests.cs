using ILGPU.Runtime;
using ILGPU;
using NativeLayers.Backends.Cpu;
using NativeLayers.Backends.Gpu.Kernels;
using NativeLayers.Loading;
using static NativeLayers.Backends.Gpu.Kernels.Tests.TestData;

namespace NativeLayers.Backends.Gpu.Kernels.Tests;

[Collection("ilgpu-cpu")]
public sealed unsafe class ElementwiseKernelTests(CpuDeviceFixture fixture)
{
    private readonly GpuDevice _gpu = fixture.Device;

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void Embedding_gathers_scaled_rows_and_zeroes_bad_ids(DType dtype)
    {
        var rng = new Random(1);
        int vocab = 11, width = 13, stride = 15;
        var (bytes, values) = Weights(rng, vocab * width, dtype);
        int[] ids = [3, 0, 10, 3, -1, 11];
        using var table = _gpu.UploadMatrix(bytes, dtype, vocab, width);
        using var idBuf = _gpu.Upload<int>(ids);
        using var output = _gpu.Allocate<float>(ids.Length * stride);
        output.View.MemSetToZero();
        _gpu.Embed(idBuf.View, table, output.View, stride, 2.5f);
        var got = _gpu.Download<float>(output.View);
        for (int t = 0; t < ids.Length; t++)
            for (int c = 0; c < width; c++)
            {
                float expected = ids[t] >= 0 && ids[t] < vocab ? values[ids[t] * width + c] * 2.5f : 0f;
                Assert.Equal(expected, got[t * stride + c]);
            }
    }

    [Theory]
    [InlineData(37, 3)]
    [InlineData(64, 2)]
    public void RmsNorm_matches_cpu_backend(int width, int rows)
    {
        var rng = new Random(2);
        int xs = width + 3, ys = width + 1;
        var x = Random(rng, rows * xs, 3f);
        var w = Random(rng, width);
        var expected = new float[rows * ys];
        fixed (float* px = x, pw = w, pe = expected) Norms.RmsNorm(px, xs, pe, ys, rows, width, pw, 1e-5f);
        using var bx = _gpu.Upload<float>(x);
        using var bw = _gpu.Upload<float>(w);
        using var by = _gpu.Allocate<float>(rows * ys);
        by.View.MemSetToZero();
        _gpu.RmsNorm(bx.View, xs, by.View, ys, rows, width, bw.View, 1e-5f);
        Close(expected, _gpu.Download<float>(by.View), 2e-6, "rmsnorm");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LayerNorm_matches_cpu_backend(bool withBias)
    {
        var rng = new Random(3);
        int width = 29, rows = 3;
        var x = Random(rng, rows * width, 2f);
        for (int i = 0; i < x.Length; i++) x[i] += 5f;   // offset mean: checks the two-pass variance
        var w = Random(rng, width);
        var b = Random(rng, width);
        var expected = new float[rows * width];
        fixed (float* px = x, pw = w, pb = b, pe = expected) Norms.LayerNorm(px, width, pe, width, rows, width, pw, withBias ? pb : null, 1e-5f);
        using var bx = _gpu.Upload<float>(x);
        using var bw = _gpu.Upload<float>(w);
        using var bb = _gpu.Upload<float>(b);
        _gpu.LayerNorm(bx.View, width, bx.View, width, rows, width, bw.View, withBias ? bb.View : default, 1e-5f);
        Close(expected, _gpu.Download<float>(bx.View), 3e-6, "layernorm");
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(10, 6)]
    [InlineData(24, 8)]
    public void Rope_matches_cpu_backend_full_and_partial(int headDim, int rotaryDim)
    {
        var rng = new Random(4);
        int rows = 3, heads = 3, stride = heads * headDim + 5, offset = 2, half = rotaryDim / 2, maxPos = 20;
        int[] positions = [7, 0, 19];
        var cos = new float[maxPos * half];
        var sin = new float[maxPos * half];
        for (int p = 0; p < maxPos; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p / Math.Pow(10000, 2.0 * i / rotaryDim);
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        var v = Random(rng, rows * stride);
        var expected = (float[])v.Clone();
        fixed (float* pe = expected, pc = cos, ps = sin)
            for (int r = 0; r < rows; r++)
                Rope.Apply(pe + r * stride + offset, heads, headDim, rotaryDim, pc + positions[r] * half, ps + positions[r] * half);
        using var bv = _gpu.Upload<float>(v);
        using var bp = _gpu.Upload<int>(positions);
        using var bc = _gpu.Upload<float>(cos);
        using var bs = _gpu.Upload<float>(sin);
        _gpu.Rope(bv.View, bp.View, bc.View, bs.View, new RopeDims { Rows = rows, Heads = heads, HeadDim = headDim, RotaryDim = rotaryDim, RowStride = stride, RowOffset = offset });
        Close(expected, _gpu.Download<float>(bv.View), 1e-6, "rope");
    }

    [Theory]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluTanh)]
    [InlineData(Activation.Relu)]
    public void Activations_plain_and_gated_match_cpu_backend(Activation activation)
    {
        var rng = new Random(5);
        int rows = 3, width = 21, stride = 2 * width + 1;   // fused [gate | up] rows
        var fused = Random(rng, rows * stride, 6f);
        // plain, in place on the gate half
        var expectedPlain = (float[])fused.Clone();
        for (int r = 0; r < rows; r++) Activations.Apply(activation, expectedPlain.AsSpan(r * stride, width));
        using var b = _gpu.Upload<float>(fused);
        _gpu.Activate(activation, b.View, stride, rows, width);
        Close(expectedPlain, _gpu.Download<float>(b.View), 2e-6, "plain");
        // gated from the original fused rows into a dense output
        var expected = new float[rows * width];
        for (int r = 0; r < rows; r++)
        {
            var gate = fused.AsSpan(r * stride, width).ToArray();
            Activations.ApplyGated(activation, gate, fused.AsSpan(r * stride + width, width), expected.AsSpan(r * width, width));
        }
        using var b2 = _gpu.Upload<float>(fused);
        using var o = _gpu.Allocate<float>(rows * width);
        _gpu.ActivateGated(activation, b2.View, stride, b2.View.SubView(width, b2.Length - width), stride, o.View, width, rows, width);
        Close(expected, _gpu.Download<float>(o.View), 2e-6, "gated");
    }

    [Fact]
    public void Residual_add_with_fused_steering_matches_double_reference()
    {
        var rng = new Random(6);
        int rows = 4, width = 19, entries = 2, vectors = 3;
        var residual = Random(rng, rows * width);
        var delta = Random(rng, rows * width);
        var table = Random(rng, vectors * width);
        int[] idx = [0, -1, 2, 1, -1, -1, 1, 1];
        float[] coefs = [0.5f, 9f, -2f, 1.5f, 3f, 3f, 0.25f, 4f];
        var dims = new ResidualDims { Rows = rows, Width = width, TargetStride = width, ResidualStride = width, DeltaStride = width, EntriesPerRow = entries };
        using var bR = _gpu.Upload<float>(residual);
        using var bD = _gpu.Upload<float>(delta);
        using var bT = _gpu.Upload<float>(table);
        using var bI = _gpu.Upload<int>(idx);
        using var bC = _gpu.Upload<float>(coefs);
        _gpu.ResidualAdd(bR.View, bR.View, bD.View, bI.View, bC.View, bT.View, dims);   // in place
        var expected = new float[rows * width];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < width; c++)
            {
                double v = residual[r * width + c] + (double)delta[r * width + c];
                for (int e = 0; e < entries; e++)
                    if (idx[r * entries + e] >= 0) v += coefs[r * entries + e] * (double)table[idx[r * entries + e] * width + c];
                expected[r * width + c] = (float)v;
            }
        Close(expected, _gpu.Download<float>(bR.View), 1e-6, "steered");

        // no delta, no steering: a plain copy
        using var target = _gpu.Allocate<float>(rows * width);
        _gpu.ResidualAdd(target.View, bD.View, default, default, default, default, dims with { EntriesPerRow = 0 });
        Close(delta, _gpu.Download<float>(target.View), 0, "copy");
    }

    [Fact]
    public void ProjectOut_removes_the_direction_per_row()
    {
        var rng = new Random(7);
        int rows = 3, width = 23, stride = 25;
        var x = Random(rng, rows * stride);
        var dirs = Random(rng, 2 * width);
        int[] rowDir = [1, -1, 0];
        using var bx = _gpu.Upload<float>(x);
        using var bd = _gpu.Upload<float>(dirs);
        using var br = _gpu.Upload<int>(rowDir);
        _gpu.ProjectOut(bx.View, stride, rows, width, bd.View, br.View);
        var expected = (float[])x.Clone();
        for (int r = 0; r < rows; r++)
        {
            if (rowDir[r] < 0) continue;
            double xu = 0, uu = 0;
            for (int c = 0; c < width; c++) { xu += x[r * stride + c] * (double)dirs[rowDir[r] * width + c]; uu += dirs[rowDir[r] * width + c] * (double)dirs[rowDir[r] * width + c]; }
            for (int c = 0; c < width; c++) expected[r * stride + c] = (float)(x[r * stride + c] - xu / uu * dirs[rowDir[r] * width + c]);
        }
        Close(expected, _gpu.Download<float>(bx.View), 2e-6, "project-out");
    }

    [Fact]
    public void Capture_packs_rows_and_copies_them_to_pinned_memory()
    {
        var rng = new Random(8);
        int rows = 6, width = 9, stride = 12;
        var src = Random(rng, rows * stride);
        int[] pick = [5, 0, 3];
        using var bs = _gpu.Upload<float>(src);
        using var bp = _gpu.Upload<int>(pick);
        using var dst = _gpu.Allocate<float>(pick.Length * width + 4);
        dst.View.MemSetToZero();
        _gpu.CaptureRows(bs.View, stride, width, bp.View, dst.View, destOffset: 4);
        using var pinned = _gpu.AllocatePinned(pick.Length * width);
        _gpu.CopyToHostAsync(dst.View.SubView(4, pick.Length * width), pinned);
        _gpu.Synchronize();
        var host = pinned.GetArray();
        for (int i = 0; i < pick.Length; i++)
            for (int c = 0; c < width; c++)
                Assert.Equal(src[pick[i] * stride + c], host[i * width + c]);
    }

    [Fact]
    public void Argmax_and_softmax_match_cpu_sampling()
    {
        var rng = new Random(9);
        int rows = 3, width = 53, stride = 55;
        var logits = Random(rng, rows * stride, 4f);
        logits[1 * stride + 10] = 9f; logits[1 * stride + 40] = 9f;   // tie → first index
        logits[2 * stride + 52] = 9f;                                   // last column
        using var bl = _gpu.Upload<float>(logits);
        using var ids = _gpu.Allocate<int>(rows);
        _gpu.Argmax(bl.View, stride, rows, width, ids.View);
        var got = _gpu.Download<int>(ids.View);
        for (int r = 0; r < rows; r++) Assert.Equal(Sampling.Argmax(logits.AsSpan(r * stride, width)), got[r]);
        Assert.Equal(10, got[1]);

        using var probs = _gpu.Allocate<float>(rows * width);
        _gpu.Softmax(bl.View, stride, probs.View, width, rows, width, 0.7f);
        var expected = new float[rows * width];
        for (int r = 0; r < rows; r++)
        {
            var row = logits.AsSpan(r * stride, width).ToArray();
            Sampling.Softmax(row, 0.7f);
            row.CopyTo(expected, r * width);
        }
        Close(expected, _gpu.Download<float>(probs.View), 2e-6, "softmax");
    }
}
