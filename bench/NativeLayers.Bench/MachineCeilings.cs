using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using NativeLayers.Backends.Cpu;

namespace NativeLayers.Bench;

/// <summary>
/// What this machine can do at best: streaming read bandwidth from DRAM, register-resident FMA throughput on one
/// thread and on every core, and the throughput of the vectorised float exponential the CPU kernels use (what bounds
/// a selective scan's prefill). The forward benchmarks are reported as fractions of these.
/// </summary>
[Config(typeof(BenchConfig))]
public unsafe class MachineCeilings
{
    public const long ReadBytes = 1L << 30;
    public const int FmaIterations = 4_000_000;
    /// <summary>16 independent chains × 16 lanes × 2 flops per FMA.</summary>
    public const long FlopsPerFmaCall = (long)FmaIterations * 16 * 16 * 2;
    public const int ExpIterations = 1_000_000;
    /// <summary>8 independent chains × 8 lanes (Vector256, as the scan kernel evaluates them).</summary>
    public const long ExponentialsPerExpCall = (long)ExpIterations * 8 * 8;

    private float* _data;
    private WorkerPool _pool = null!;

    public static int AllThreads => Environment.ProcessorCount;

    [GlobalSetup]
    public void Setup()
    {
        _data = (float*)NativeMemory.AlignedAlloc((nuint)ReadBytes, 64);
        var span = new Span<float>(_data, (int)(ReadBytes / 4));
        for (int i = 0; i < span.Length; i++) span[i] = (i & 1023) * 1e-3f; // touch every page
        _pool = new WorkerPool(AllThreads);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_data);
        _pool.Dispose();
    }

    [Benchmark] public float Read1Thread() => Sum(_data, ReadBytes / 4);

    [Benchmark]
    public float ReadAllThreads()
    {
        long part = ReadBytes / 4 / AllThreads;
        var sums = new float[AllThreads];
        _pool.For(AllThreads, t => sums[t] = Sum(_data + t * part, part));
        return sums.Sum();
    }

    [Benchmark] public float Fma1Thread() => FmaChains(FmaIterations);

    [Benchmark]
    public float FmaAllThreads()
    {
        var sums = new float[AllThreads];
        _pool.For(AllThreads, t => sums[t] = FmaChains(FmaIterations));
        return sums.Sum();
    }

    [Benchmark]
    public float ExpAllThreads()
    {
        var sums = new float[AllThreads];
        _pool.For(AllThreads, t => sums[t] = ExpChains(ExpIterations));
        return sums.Sum();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Sum(float* p, long count)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        long i = 0;
        for (; i + 64 <= count; i += 64)
        {
            a0 += Vector512.LoadAligned(p + i);
            a1 += Vector512.LoadAligned(p + i + 16);
            a2 += Vector512.LoadAligned(p + i + 32);
            a3 += Vector512.LoadAligned(p + i + 48);
        }
        float sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < count; i++) sum += p[i];
        return sum;
    }

    /// <summary>16 independent FMA chains (enough to cover the FMA latency on two pipes), all in registers.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaChains(int iterations)
    {
        var m = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-6f);
        Vector512<float> a0 = Vector512.Create(0.1f), a1 = a0 + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c, a6 = a5 + c, a7 = a6 + c;
        Vector512<float> a8 = a7 + c, a9 = a8 + c, a10 = a9 + c, a11 = a10 + c, a12 = a11 + c, a13 = a12 + c, a14 = a13 + c, a15 = a14 + c;
        for (int i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c); a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
            a12 = Vector512.FusedMultiplyAdd(a12, m, c); a13 = Vector512.FusedMultiplyAdd(a13, m, c);
            a14 = Vector512.FusedMultiplyAdd(a14, m, c); a15 = Vector512.FusedMultiplyAdd(a15, m, c);
        }
        var total = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
        return Vector512.Sum(total);
    }

    /// <summary>8 independent chains x ← exp(−x / 2) (enough to cover the exponential's latency), all in registers; each stays in (0, 1].</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float ExpChains(int iterations)
    {
        var m = Vector256.Create(-0.5f);
        var c = Vector256.Create(1e-3f);
        Vector256<float> a0 = Vector256.Create(0.1f), a1 = a0 + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c, a6 = a5 + c, a7 = a6 + c;
        for (int i = 0; i < iterations; i++)
        {
            a0 = Vector256.Exp(a0 * m); a1 = Vector256.Exp(a1 * m); a2 = Vector256.Exp(a2 * m); a3 = Vector256.Exp(a3 * m);
            a4 = Vector256.Exp(a4 * m); a5 = Vector256.Exp(a5 * m); a6 = Vector256.Exp(a6 * m); a7 = Vector256.Exp(a7 * m);
        }
        return Vector256.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)));
    }
}
