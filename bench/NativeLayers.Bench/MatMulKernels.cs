using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;

namespace NativeLayers.Bench;

/// <summary>
/// MatMul.Run alone on the llama-768 MLP shapes (gate/up: 2048×768, down: 768×2048), for a decode-sized and a
/// prefill-sized batch. Several copies of the weights are cycled so that T = 1 reads them from DRAM, as decode does.
/// </summary>
[Config(typeof(BenchConfig))]
public unsafe class MatMulKernels
{
    private const long WeightPoolBytes = 512L << 20;
    private WeightMatrix[] _weights = null!;
    private byte* _weightMemory;
    private float* _x, _y;
    private int _next;

    [Params(DType.F32, DType.BF16)] public DType DType { get; set; }
    [Params("2048x768", "768x2048")] public string Shape { get; set; } = "";
    [Params(1, 128)] public int T { get; set; }

    public int OutRows => int.Parse(Shape.Split('x')[0]);
    public int InCols => int.Parse(Shape.Split('x')[1]);

    [GlobalSetup]
    public void Setup()
    {
        long matrixBytes = (long)OutRows * InCols * DType.SizeOf();
        int copies = (int)Math.Max(1, WeightPoolBytes / matrixBytes);
        _weightMemory = (byte*)NativeMemory.AlignedAlloc((nuint)(copies * matrixBytes), 64);
        var random = new Random(3);
        var bytes = new Span<ushort>(_weightMemory, (int)(copies * matrixBytes / 2));
        // 0x3C00..0x3CFF as a bf16, or as the high half of an f32, is a finite value near 0.008.
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (ushort)(0x3C00 | random.Next(256));
        _weights = Enumerable.Range(0, copies).Select(c => new WeightMatrix(_weightMemory + c * matrixBytes, DType, OutRows, InCols)).ToArray();
        _x = (float*)NativeMemory.AlignedAlloc((nuint)((long)T * InCols * 4), 64);
        _y = (float*)NativeMemory.AlignedAlloc((nuint)((long)T * OutRows * 4), 64);
        for (int i = 0; i < T * InCols; i++) _x[i] = (float)random.NextDouble() - 0.5f;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_weightMemory);
        NativeMemory.AlignedFree(_x);
        NativeMemory.AlignedFree(_y);
    }

    [Benchmark]
    public void Run()
    {
        var w = _weights[_next];
        _next = (_next + 1) % _weights.Length;
        MatMul.Run(WorkerPool.Default, _x, InCols, T, w, null, _y, OutRows);
    }
}
