using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;

namespace NativeLayers.Bench;

/// <summary>
/// Attention.Run alone for one llama-768 layer (12 heads of 64): causal prefill of Queries tokens, or (Queries = 1)
/// one decode query against a cache of Decode.Context tokens. Multiply by 12 layers for the forward pass.
/// </summary>
[Config(typeof(BenchConfig))]
public unsafe class AttentionKernels
{
    private float* _q, _out, _keys, _values;
    private AttentionSequence[] _sequences = null!;
    private AttentionShape _shape;

    [Params(1, 128, 512)] public int Queries { get; set; }

    public int Past => Queries == 1 ? Decode.Context : 0;
    private static int Width => BenchModels.Spec.Hidden;

    [GlobalSetup]
    public void Setup()
    {
        var spec = BenchModels.Spec;
        _shape = new AttentionShape(spec.Heads, spec.KvHeads, spec.HeadDim, 1f / MathF.Sqrt(spec.HeadDim));
        int positions = Past + Queries;
        _q = Fill((long)Queries * Width);
        _out = Fill((long)Queries * Width);
        _keys = Fill((long)positions * _shape.KvStride);
        _values = Fill((long)positions * _shape.KvStride);
        _sequences = [new AttentionSequence(0, Queries, Past, _keys, _values)];
    }

    private static float* Fill(long count)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(count * 4), 64);
        var random = new Random(4);
        for (long i = 0; i < count; i++) p[i] = (float)random.NextDouble() - 0.5f;
        return p;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var p in new[] { _q, _out, _keys, _values }) NativeMemory.AlignedFree(p);
    }

    [Benchmark] public void Run() => Attention.Run(WorkerPool.Default, _sequences, _q, Width, _out, Width, _shape);

    /// <summary>q·k and p·v over every (query, visible key) pair: 4·heads·headDim flops each.</summary>
    public static double Flops(int queries)
    {
        var s = BenchModels.Spec;
        double pairs = queries == 1 ? Decode.Context + 1 : queries * (queries + 1.0) / 2;
        return 4.0 * s.Heads * s.HeadDim * pairs;
    }
}
