using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using NativeLayers.Backends;
using NativeLayers.Loading;

namespace NativeLayers.Backends.Gpu.Kernels;

/// <summary>Which linear-layer kernel <see cref="GpuDevice.MatMul"/> uses.</summary>
public enum MatMulPath
{
    /// <summary>Mat-vec up to 4 rows; tensor cores for 16-bit weights on CUDA; the tiled FMA kernel otherwise.</summary>
    Auto,
    MatVec,
    Tiled,
    TensorCore,
}

/// <summary>A weight matrix [Rows, Cols] (nn.Linear: Rows = output features) resident on the device in its stored dtype.</summary>
public sealed class GpuMatrix : IDisposable
{
    internal GpuMatrix(DType dtype, int rows, int cols, MemoryBuffer1D<float, Stride1D.Dense>? f32, MemoryBuffer1D<ushort, Stride1D.Dense>? bits16)
    {
        DType = dtype; Rows = rows; Cols = cols; F32 = f32; Bits16 = bits16;
    }

    public DType DType { get; }
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>The data when <see cref="DType"/> is F32.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense>? F32 { get; }
    /// <summary>The raw 16-bit data when <see cref="DType"/> is F16 or BF16.</summary>
    public MemoryBuffer1D<ushort, Stride1D.Dense>? Bits16 { get; }

    public void Dispose()
    {
        F32?.Dispose();
        Bits16?.Dispose();
    }
}

/// <summary>
/// Owns an ILGPU context and accelerator, compiles every kernel once, and exposes one method per op. Every launch is
/// asynchronous on <see cref="Stream"/>; call <see cref="Synchronize"/> before reading results on the host.
/// Conventions: all matrices are row-major float32 with an explicit row stride in floats (stride ≥ width); weights are
/// [out, in] as nn.Linear; "an empty view" (default) stands for an absent optional input.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private const int SharedBytesLimit = 48 * 1024;

    private static readonly Lazy<bool> s_cudaAvailable = new(() =>
    {
        try
        {
            using var probe = Context.Create(b => b.Cuda());
            return probe.GetCudaDevices().Count > 0;
        }
        catch (Exception)
        {
            return false;
        }
    });

    /// <summary>True when a CUDA device and driver are usable.</summary>
    public static bool CudaAvailable => s_cudaAvailable.Value;

    private readonly Context _context;

    // Elementwise (implicitly grouped) kernels.
    private readonly Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, float> _gatherF32;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<float>, int, int, int, float> _gatherF16, _gatherBf16;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, RopeDims> _rope;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, int, int> _actPlain;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, int, ArrayView<float>, int, int, int> _actGated;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ResidualDims> _residual;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>, long, int> _gatherRows;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int> _scatterAddRows;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StateSpaceDims> _conv;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StateSpaceDims> _scan;

    // Explicitly grouped kernels.
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<float>, int, int, ArrayView<float>, float> _rmsNorm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, int, float> _layerNorm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearDims> _matVecF32, _tiledF32;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, LinearDims> _matVecF16, _matVecBf16, _tiledF16, _tiledBf16, _mmaF16, _mmaBf16;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, AttentionDims> _attend;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, ArrayView<float>, ArrayView<int>> _projectOut;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, ArrayView<int>> _argmax;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, ArrayView<float>, int, int, float> _softmax;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int> _solu;

    /// <summary>Creates the accelerator and compiles every kernel (throws <see cref="NativeLayersException"/> when CUDA is asked for and missing).</summary>
    public GpuDevice(DeviceKind kind)
    {
        Kind = kind;
        switch (kind)
        {
            case DeviceKind.Cuda:
                if (!CudaAvailable) throw new NativeLayersException("no CUDA device is available.");
                _context = Context.Create(b => b.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
                Accelerator = _context.CreateCudaAccelerator(0);
                break;
            case DeviceKind.IlgpuCpu:
                _context = Context.Create(b => b.CPU(CPUDevice.Default).EnableAlgorithms().Optimize(OptimizationLevel.O1));
                Accelerator = _context.CreateCPUAccelerator(0);
                break;
            case DeviceKind.IlgpuCpuWarp32:
                _context = Context.Create(b => b.CPU(new CPUDevice(32, 4, 1)).EnableAlgorithms().Optimize(OptimizationLevel.O1));
                Accelerator = _context.CreateCPUAccelerator(0);
                break;
            default:
                throw new NativeLayersException($"{DeviceKinds.Name(kind)} is not a GPU device kind (use cuda, ilgpu-cpu or ilgpu-cpu-warp32).");
        }
        Stream = Accelerator.DefaultStream;
        WarpSize = Accelerator.WarpSize;
        int max = Accelerator.MaxNumThreadsPerGroup;
        RowGroupSize = Math.Max(WarpSize, Math.Min(Math.Min(256, max), WarpSize * WarpSize) / WarpSize * WarpSize);
        AttentionGroupSize = Math.Max(WarpSize, Math.Min(128, max) / WarpSize * WarpSize);
        int side = 16;
        while (side > 1 && (side * side > max || side * side % WarpSize != 0)) side /= 2;
        TileSide = side;
        TensorCoresSupported = WarpSize == 32 && max >= MatMulKernels.MmaThreads;

        var a = Accelerator;
        _gatherF32 = a.LoadAutoGroupedKernel<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, int, int, int, float>(EmbeddingKernels.Gather<float, F32Format>);
        _gatherF16 = a.LoadAutoGroupedKernel<Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<float>, int, int, int, float>(EmbeddingKernels.Gather<ushort, F16Format>);
        _gatherBf16 = a.LoadAutoGroupedKernel<Index1D, ArrayView<int>, ArrayView<ushort>, ArrayView<float>, int, int, int, float>(EmbeddingKernels.Gather<ushort, Bf16Format>);
        _rope = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, RopeDims>(RopeKernels.Apply);
        _actPlain = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, int, int>(ActivationKernels.Plain);
        _actGated = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, int, ArrayView<float>, int, int, int>(ActivationKernels.Gated);
        _residual = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ResidualDims>(ResidualKernels.AddSteered);
        _gatherRows = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<int>, ArrayView<float>, long, int>(CaptureKernels.GatherRows);
        _scatterAddRows = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, int>(CaptureKernels.ScatterAddRows);
        _conv = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StateSpaceDims>(StateSpaceKernels.Conv);
        _scan = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, StateSpaceDims>(StateSpaceKernels.Scan);

        _rmsNorm = a.LoadKernel<ArrayView<float>, int, ArrayView<float>, int, int, ArrayView<float>, float>(NormKernels.RmsNorm);
        _layerNorm = a.LoadKernel<ArrayView<float>, int, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, int, float>(NormKernels.LayerNorm);
        _matVecF32 = a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.MatVec<float, F32Format>);
        _matVecF16 = a.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.MatVec<ushort, F16Format>);
        _matVecBf16 = a.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.MatVec<ushort, Bf16Format>);
        _tiledF32 = a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.Tiled<float, F32Format>);
        _tiledF16 = a.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.Tiled<ushort, F16Format>);
        _tiledBf16 = a.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.Tiled<ushort, Bf16Format>);
        if (TensorCoresSupported)
        {
            _mmaF16 = a.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.TensorCore<F16Mma>);
            _mmaBf16 = a.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, LinearDims>(MatMulKernels.TensorCore<Bf16Mma>);
        }
        else
        {
            _mmaF16 = _mmaBf16 = (_, _, _, _, _, _, _) => throw new NativeLayersException("the tensor-core kernel needs 32-lane warps and 128-thread groups.");
        }
        _attend = a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, AttentionDims>(AttentionKernels.Attend);
        _projectOut = a.LoadKernel<ArrayView<float>, int, int, ArrayView<float>, ArrayView<int>>(ResidualKernels.ProjectOut);
        _argmax = a.LoadKernel<ArrayView<float>, int, int, ArrayView<int>>(HeadKernels.Argmax);
        _softmax = a.LoadKernel<ArrayView<float>, int, ArrayView<float>, int, int, float>(HeadKernels.Softmax);
        _solu = a.LoadKernel<ArrayView<float>, int, int>(ActivationKernels.Solu);
    }

    public DeviceKind Kind { get; }
    public Accelerator Accelerator { get; }
    /// <summary>The stream every launch goes to (the accelerator's default stream unless replaced).</summary>
    public AcceleratorStream Stream { get; set; }
    public int WarpSize { get; }
    /// <summary>Threads per group of the row-wise kernels (norms, head, projection-out, mat-vec).</summary>
    public int RowGroupSize { get; }
    /// <summary>Threads per group of the attention kernel.</summary>
    public int AttentionGroupSize { get; }
    /// <summary>The tiled matmul's groups are TileSide × TileSide threads (tiles of 4·TileSide rows × 4·TileSide outputs).</summary>
    public int TileSide { get; }
    /// <summary>Whether <see cref="MatMulPath.TensorCore"/> can launch (32-lane warps, 128-thread groups).</summary>
    public bool TensorCoresSupported { get; }

    // ------------------------------------------------------------------ memory

    public MemoryBuffer1D<T, Stride1D.Dense> Allocate<T>(long length) where T : unmanaged => Accelerator.Allocate1D<T>(length);

    public MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var buffer = Accelerator.Allocate1D<T>(Math.Max(1, data.Length));
        if (data.Length > 0) buffer.View.AsContiguous().SubView(0, data.Length).CopyFromCPU(data);
        return buffer;
    }

    /// <summary>Synchronous copy of a whole view to a new array (synchronizes <see cref="Stream"/> first).</summary>
    public T[] Download<T>(ArrayView<T> view) where T : unmanaged
    {
        Stream.Synchronize();
        var result = new T[view.Length];
        view.CopyToCPU(result);
        return result;
    }

    /// <summary>Uploads a weight matrix in its stored dtype (F32, F16 or BF16 bytes, row-major [rows, cols]).</summary>
    public GpuMatrix UploadMatrix(ReadOnlySpan<byte> data, DType dtype, int rows, int cols)
    {
        long count = (long)rows * cols;
        if (data.Length != count * dtype.SizeOf())
            throw new NativeLayersException($"matrix [{rows}, {cols}] {dtype} needs {count * dtype.SizeOf()} bytes, got {data.Length}.");
        return dtype switch
        {
            DType.F32 => new GpuMatrix(dtype, rows, cols, Upload(MemoryMarshal.Cast<byte, float>(data)), null),
            DType.F16 or DType.BF16 => new GpuMatrix(dtype, rows, cols, null, Upload(MemoryMarshal.Cast<byte, ushort>(data))),
            _ => throw new NativeLayersException($"weights must be F32, F16 or BF16, got {dtype}."),
        };
    }

    /// <summary>Page-locked host memory for asynchronous device→host copies (see <see cref="CopyToHostAsync"/>).</summary>
    public PageLockedArray1D<float> AllocatePinned(long length) => Accelerator.AllocatePageLocked1D<float>(length);

    /// <summary>Enqueues a copy of <paramref name="source"/> into pinned host memory of the same length on <see cref="Stream"/> (complete after <see cref="Synchronize"/>).</summary>
    public void CopyToHostAsync(ArrayView<float> source, PageLockedArray1D<float> destination)
    {
        if (destination.Length != source.Length) throw new NativeLayersException("pinned destination must have exactly the source's length.");
        source.CopyToPageLockedAsync(Stream, destination);
    }

    public void Synchronize() => Stream.Synchronize();

    // ------------------------------------------------------------------ embedding

    /// <summary>output[t, :width] = scale · table[ids[t], :] for t &lt; ids.Length (table [vocab, width] in its dtype; bad ids give zeros).</summary>
    public void Embed(ArrayView<int> ids, GpuMatrix table, ArrayView<float> output, int outStride, float scale = 1f)
    {
        int n = checked((int)ids.Length * table.Cols);
        if (n == 0) return;
        switch (table.DType)
        {
            case DType.F32: _gatherF32(Stream, n, ids, table.F32!.View, output, table.Cols, table.Rows, outStride, scale); break;
            case DType.F16: _gatherF16(Stream, n, ids, table.Bits16!.View, output, table.Cols, table.Rows, outStride, scale); break;
            default: _gatherBf16(Stream, n, ids, table.Bits16!.View, output, table.Cols, table.Rows, outStride, scale); break;
        }
    }

    // ------------------------------------------------------------------ norms

    /// <summary>y[r] = x[r] · rsqrt(mean(x[r, :width]²) + eps) · weight for r &lt; rows (weight includes any +1 offset; y may alias x).</summary>
    public void RmsNorm(ArrayView<float> x, int xStride, ArrayView<float> y, int yStride, int rows, int width, ArrayView<float> weight, float eps)
    {
        if (rows == 0) return;
        _rmsNorm(Stream, new KernelConfig(rows, RowGroupSize), x, xStride, y, yStride, width, weight, eps);
    }

    /// <summary>y[r] = (x[r] − mean) / sqrt(biased var + eps) · weight (+ bias unless empty) for r &lt; rows (y may alias x).</summary>
    public void LayerNorm(ArrayView<float> x, int xStride, ArrayView<float> y, int yStride, int rows, int width, ArrayView<float> weight, ArrayView<float> bias, float eps)
    {
        if (rows == 0) return;
        _layerNorm(Stream, new KernelConfig(rows, RowGroupSize), x, xStride, y, yStride, width, weight, bias, bias.Length > 0 ? 1 : 0, eps);
    }

    // ------------------------------------------------------------------ linear layers

    /// <summary>
    /// y[t, o] = Σ_k x[t, k] · W[o, k] + bias[o] (+ y[t, o] when <paramref name="accumulate"/>) for t &lt; rows, o &lt; W.Rows,
    /// k &lt; W.Cols; x is [rows, W.Cols] with row stride xStride, y is [rows, W.Rows] with row stride yStride; bias may be empty.
    /// <see cref="MatMulPath.TensorCore"/> rounds x to the weights' 16-bit type (bf16/f16) and needs 16-bit weights.
    /// </summary>
    public void MatMul(ArrayView<float> x, int xStride, int rows, GpuMatrix w, ArrayView<float> bias, ArrayView<float> y, int yStride,
        bool accumulate = false, MatMulPath path = MatMulPath.Auto)
    {
        if (rows == 0 || w.Rows == 0) return;
        var d = new LinearDims
        {
            Rows = rows, In = w.Cols, Out = w.Rows, XStride = xStride, YStride = yStride,
            HasBias = bias.Length > 0 ? 1 : 0, Accumulate = accumulate ? 1 : 0,
        };
        if (path == MatMulPath.Auto)
        {
            path = rows <= 4 ? MatMulPath.MatVec
                : Kind == DeviceKind.Cuda && TensorCoresSupported && w.DType != DType.F32 ? MatMulPath.TensorCore
                : MatMulPath.Tiled;
        }
        switch (path)
        {
            case MatMulPath.MatVec:
            {
                int warps = RowGroupSize / WarpSize;
                var config = new KernelConfig((w.Rows + warps - 1) / warps, RowGroupSize);
                switch (w.DType)
                {
                    case DType.F32: _matVecF32(Stream, config, x, w.F32!.View, bias, y, d); break;
                    case DType.F16: _matVecF16(Stream, config, x, w.Bits16!.View, bias, y, d); break;
                    default: _matVecBf16(Stream, config, x, w.Bits16!.View, bias, y, d); break;
                }
                break;
            }
            case MatMulPath.Tiled:
            {
                int tile = 4 * TileSide;
                var config = new KernelConfig(new Index2D((w.Rows + tile - 1) / tile, (rows + tile - 1) / tile), new Index2D(TileSide, TileSide),
                    SharedMemoryConfig.RequestDynamic<float>(MatMulKernels.TiledK * 2 * tile));
                switch (w.DType)
                {
                    case DType.F32: _tiledF32(Stream, config, x, w.F32!.View, bias, y, d); break;
                    case DType.F16: _tiledF16(Stream, config, x, w.Bits16!.View, bias, y, d); break;
                    default: _tiledBf16(Stream, config, x, w.Bits16!.View, bias, y, d); break;
                }
                break;
            }
            default:
            {
                if (w.DType == DType.F32) throw new NativeLayersException("the tensor-core path needs F16 or BF16 weights.");
                var config = new KernelConfig(new Index2D((w.Rows + MatMulKernels.MmaBlockN - 1) / MatMulKernels.MmaBlockN,
                    (rows + MatMulKernels.MmaBlockM - 1) / MatMulKernels.MmaBlockM), new Index2D(MatMulKernels.MmaThreads, 1));
                if (w.DType == DType.F16) _mmaF16(Stream, config, x, w.Bits16!.View, bias, y, d);
                else _mmaBf16(Stream, config, x, w.Bits16!.View, bias, y, d);
                break;
            }
        }
    }

    // ------------------------------------------------------------------ RoPE

    /// <summary>
    /// Rotates, in place, the first rotaryDim dims of every head of every row (rotate_half pairing i ↔ i + rotaryDim/2) at
    /// position positions[r]; cos/sin tables are [maxPositions, rotaryDim/2]. Dims past rotaryDim are untouched (partial rotary).
    /// </summary>
    public void Rope(ArrayView<float> vectors, ArrayView<int> positions, ArrayView<float> cos, ArrayView<float> sin, RopeDims dims)
    {
        if (dims.RotaryDim % 2 != 0 || dims.RotaryDim > dims.HeadDim) throw new NativeLayersException("rotary dim must be even and ≤ head dim.");
        int n = dims.Rows * dims.Heads * (dims.RotaryDim / 2);
        if (n > 0) _rope(Stream, n, vectors, positions, cos, sin, dims);
    }

    // ------------------------------------------------------------------ attention

    /// <summary>
    /// Attention over a ragged batch (prefill and decode alike). <paramref name="sequences"/> holds 4 ints per sequence:
    /// firstRow (its first query row in q and output), queries, past (cached tokens before these queries: query t is at
    /// position past + t), kvFirstRow (row of position 0 in keys/values; rows up to past + queries − 1 must be filled,
    /// already rotated). q rows hold Heads·HeadDim floats at QOffset; k/v rows KvHeads·HeadDim at KvOffset. Causal: query i
    /// sees keys max(0, i − Window)..i (Window −1 = none); bidirectional: all past + queries keys. Query head h reads kv
    /// head h / (Heads / KvHeads). <paramref name="maxQueries"/> bounds the queries of any sequence.
    /// Set <see cref="AttentionDims.RowsPerWarp"/> to 0 to let the device pick it.
    /// </summary>
    public void Attention(ArrayView<float> q, ArrayView<float> keys, ArrayView<float> values, ArrayView<float> output,
        ArrayView<int> sequences, int sequenceCount, int maxQueries, AttentionDims dims)
    {
        if (sequenceCount == 0 || maxQueries == 0) return;
        if (dims.KvHeads <= 0 || dims.Heads % dims.KvHeads != 0) throw new NativeLayersException("heads must be a multiple of kv heads.");
        int warps = AttentionGroupSize / WarpSize;
        int group = dims.Heads / dims.KvHeads;
        int rowsNeeded = maxQueries * group;
        if (dims.RowsPerWarp <= 0)
        {
            int rpw = Math.Clamp((rowsNeeded + warps - 1) / warps, 1, 4);
            while (rpw > 1 && AttentionKernels.SharedFloats(dims.HeadDim, warps, rpw) * 4 > SharedBytesLimit) rpw--;
            dims.RowsPerWarp = rpw;
        }
        int shared = AttentionKernels.SharedFloats(dims.HeadDim, warps, dims.RowsPerWarp);
        if (shared * 4 > SharedBytesLimit) throw new NativeLayersException($"head dim {dims.HeadDim} needs more than 48 KB of shared memory.");
        int blockRows = warps * dims.RowsPerWarp;
        var config = new KernelConfig(new Index3D((rowsNeeded + blockRows - 1) / blockRows, dims.KvHeads, sequenceCount),
            new Index3D(AttentionGroupSize, 1, 1), SharedMemoryConfig.RequestDynamic<float>(shared));
        _attend(Stream, config, q, keys, values, output, sequences, dims);
    }

    // ------------------------------------------------------------------ activations

    /// <summary>values[r, c] = act(values[r, c]) for r &lt; rows, c &lt; width, in place (SoLU: x · softmax(x) over the row).</summary>
    public void Activate(Activation activation, ArrayView<float> values, int stride, int rows, int width)
    {
        int n = rows * width;
        if (n == 0) return;
        if (activation == Activation.SoluLn) _solu(Stream, new KernelConfig(rows, RowGroupSize), values, stride, width);
        else _actPlain(Stream, n, values, width, stride, Code(activation));
    }

    /// <summary>output[r, c] = act(gate[r, c]) · up[r, c]; strides allow gate/up halves of one fused row; output may alias gate.</summary>
    public void ActivateGated(Activation activation, ArrayView<float> gate, int gateStride, ArrayView<float> up, int upStride,
        ArrayView<float> output, int outStride, int rows, int width)
    {
        int n = rows * width;
        if (n > 0) _actGated(Stream, n, gate, gateStride, up, upStride, output, outStride, width, Code(activation));
    }

    private static int Code(Activation activation) => activation switch
    {
        Activation.Silu => ActivationCodes.Silu,
        Activation.GeluTanh => ActivationCodes.GeluTanh,
        Activation.Gelu => ActivationCodes.Gelu,
        Activation.Relu => ActivationCodes.Relu,
        _ => throw new NativeLayersException($"activation {activation} has no GPU kernel."),
    };

    // ------------------------------------------------------------------ residual

    /// <summary>
    /// target[r, c] = residual[r, c] + delta[r, c] (delta may be empty) + Σ_e coefs[r, e] · table[indices[r, e], c] over
    /// e &lt; dims.EntriesPerRow, skipping index −1; table is [vectors, width]; indices/coefs are [rows, EntriesPerRow].
    /// target may alias residual (in-place update of the stream).
    /// </summary>
    public void ResidualAdd(ArrayView<float> target, ArrayView<float> residual, ArrayView<float> delta,
        ArrayView<int> indices, ArrayView<float> coefs, ArrayView<float> table, ResidualDims dims)
    {
        dims.HasDelta = delta.Length > 0 ? 1 : 0;
        int n = dims.Rows * dims.Width;
        if (n > 0) _residual(Stream, n, target, residual, delta, indices, coefs, table, dims);
    }

    /// <summary>In place: x[r] −= (x[r]·u / u·u) u with u = directions[rowDirection[r]] ([n, width]); rows with index −1 are untouched.</summary>
    public void ProjectOut(ArrayView<float> x, int stride, int rows, int width, ArrayView<float> directions, ArrayView<int> rowDirection)
    {
        if (rows > 0) _projectOut(Stream, new KernelConfig(rows, RowGroupSize), x, stride, width, directions, rowDirection);
    }

    // ------------------------------------------------------------------ capture

    /// <summary>destination[destOffset + i·width + c] = source[rows[i]·sourceStride + c] for i &lt; rows.Length (a dense block for an async copy).</summary>
    public void CaptureRows(ArrayView<float> source, int sourceStride, int width, ArrayView<int> rows, ArrayView<float> destination, long destOffset = 0)
    {
        int n = checked((int)rows.Length * width);
        if (n > 0) _gatherRows(Stream, n, source, sourceStride, rows, destination, destOffset, width);
    }

    /// <summary>target[rows[i], :width] += weights[i] · source[i, :width] (dense rows; the listed target rows are distinct).</summary>
    public void ScatterAddRows(ArrayView<float> source, ArrayView<int> rows, ArrayView<float> weights, ArrayView<float> target, int width)
    {
        int n = checked((int)rows.Length * width);
        if (n > 0) _scatterAddRows(Stream, n, source, rows, weights, target, width);
    }

    // ------------------------------------------------------------------ state space

    /// <summary>One sequence's causal depthwise conv + SiLU (see <see cref="StateSpaceKernels.Conv"/>); x and y start at its first row.</summary>
    public void CausalConv1d(ArrayView<float> x, ArrayView<float> taps, ArrayView<float> bias, ArrayView<float> state, ArrayView<float> y, StateSpaceDims dims)
    {
        if (dims.Tokens > 0) _conv(Stream, dims.Channels, x, taps, bias, state, y, dims);
    }

    /// <summary>One sequence's selective scan (see <see cref="StateSpaceKernels.Scan"/>); the row views start at its first row.</summary>
    public void SelectiveScan(ArrayView<float> u, ArrayView<float> dt, ArrayView<float> b, ArrayView<float> c, ArrayView<float> gate,
        ArrayView<float> a, ArrayView<float> d, ArrayView<float> state, ArrayView<float> y, StateSpaceDims dims)
    {
        if (dims.Tokens > 0) _scan(Stream, dims.Channels, u, dt, b, c, gate, a, d, state, y, dims);
    }

    /// <summary>Sets a view to zero (asynchronously, on <see cref="Stream"/>).</summary>
    public void Clear(ArrayView<float> view)
    {
        if (view.Length > 0) view.MemSetToZero(Stream);
    }

    // ------------------------------------------------------------------ head

    /// <summary>result[r] = first index of the maximum of logits[r, :width] for r &lt; rows.</summary>
    public void Argmax(ArrayView<float> logits, int stride, int rows, int width, ArrayView<int> result)
    {
        if (rows > 0) _argmax(Stream, new KernelConfig(rows, RowGroupSize), logits, stride, width, result);
    }

    /// <summary>probs[r, :width] = softmax(logits[r, :width] / temperature) (temperature &gt; 0; probs may alias logits).</summary>
    public void Softmax(ArrayView<float> logits, int stride, ArrayView<float> probs, int probsStride, int rows, int width, float temperature = 1f)
    {
        if (!(temperature > 0f)) throw new NativeLayersException("softmax temperature must be positive.");
        if (rows > 0) _softmax(Stream, new KernelConfig(rows, RowGroupSize), logits, stride, probs, probsStride, width, temperature);
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}

/// <summary>Every kernel entry point, for ahead-of-time compilation checks (PTX + ptxas in CI).</summary>
public static class KernelCatalog
{
    /// <summary>A kernel: a display name, its (closed) method, and whether it is explicitly grouped (no index parameter).</summary>
    public sealed record Entry(string Name, MethodInfo Method, bool ExplicitlyGrouped);

    private static Entry E(string name, Delegate kernel, bool explicitGroups) => new(name, kernel.Method, explicitGroups);

    public static IReadOnlyList<Entry> All { get; } =
    [
        E("Embedding.Gather.F32", EmbeddingKernels.Gather<float, F32Format>, false),
        E("Embedding.Gather.F16", EmbeddingKernels.Gather<ushort, F16Format>, false),
        E("Embedding.Gather.BF16", EmbeddingKernels.Gather<ushort, Bf16Format>, false),
        E("Norm.RmsNorm", NormKernels.RmsNorm, true),
        E("Norm.LayerNorm", NormKernels.LayerNorm, true),
        E("MatMul.MatVec.F32", MatMulKernels.MatVec<float, F32Format>, true),
        E("MatMul.MatVec.F16", MatMulKernels.MatVec<ushort, F16Format>, true),
        E("MatMul.MatVec.BF16", MatMulKernels.MatVec<ushort, Bf16Format>, true),
        E("MatMul.Tiled.F32", MatMulKernels.Tiled<float, F32Format>, true),
        E("MatMul.Tiled.F16", MatMulKernels.Tiled<ushort, F16Format>, true),
        E("MatMul.Tiled.BF16", MatMulKernels.Tiled<ushort, Bf16Format>, true),
        E("MatMul.TensorCore.F16", MatMulKernels.TensorCore<F16Mma>, true),
        E("MatMul.TensorCore.BF16", MatMulKernels.TensorCore<Bf16Mma>, true),
        E("Rope.Apply", RopeKernels.Apply, false),
        E("Attention.Attend", AttentionKernels.Attend, true),
        E("Activation.Plain", ActivationKernels.Plain, false),
        E("Activation.Gated", ActivationKernels.Gated, false),
        E("Activation.Solu", ActivationKernels.Solu, true),
        E("Residual.AddSteered", ResidualKernels.AddSteered, false),
        E("Residual.ProjectOut", ResidualKernels.ProjectOut, true),
        E("Capture.GatherRows", CaptureKernels.GatherRows, false),
        E("Capture.ScatterAddRows", CaptureKernels.ScatterAddRows, false),
        E("StateSpace.Conv", StateSpaceKernels.Conv, false),
        E("StateSpace.Scan", StateSpaceKernels.Scan, false),
        E("Head.Argmax", HeadKernels.Argmax, true),
        E("Head.Softmax", HeadKernels.Softmax, true),
    ];
}
