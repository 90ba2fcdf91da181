using BenchmarkDotNet.Running;
using NativeLayers.Loading;
using NativeLayers.ModelGen;

namespace NativeLayers.Bench;

/// <summary>What one benchmark operation does: bytes it must stream, flops it computes, tokens it produces, exponentials it evaluates.</summary>
public sealed record Workload(double Bytes = 0, double Flops = 0, double Tokens = 0, double Exponentials = 0)
{
    public static Workload Of(BenchmarkCase c)
    {
        T P<T>(string name) => (T)c.Parameters[name];
        var type = c.Descriptor.Type;
        if (type.IsSubclassOf(typeof(PrefillBenchmark)))
            return PrefillWork(SpecOf(c), P<int>(nameof(PrefillBenchmark.Tokens)));
        if (type.IsSubclassOf(typeof(DecodeBenchmark)))
            return DecodeStep(SpecOf(c), P<DType>(nameof(DecodeBenchmark.DType)), P<int>(nameof(DecodeBenchmark.Batch)));
        return (type.Name, c.Descriptor.WorkloadMethod.Name) switch
        {
            (nameof(MachineCeilings), nameof(MachineCeilings.Read1Thread) or nameof(MachineCeilings.ReadAllThreads)) =>
                new(Bytes: MachineCeilings.ReadBytes),
            (nameof(MachineCeilings), nameof(MachineCeilings.Fma1Thread)) => new(Flops: MachineCeilings.FlopsPerFmaCall),
            (nameof(MachineCeilings), nameof(MachineCeilings.FmaAllThreads)) =>
                new(Flops: (double)MachineCeilings.FlopsPerFmaCall * MachineCeilings.AllThreads),
            (nameof(MachineCeilings), nameof(MachineCeilings.ExpAllThreads)) =>
                new(Exponentials: (double)MachineCeilings.ExponentialsPerExpCall * MachineCeilings.AllThreads),
            (nameof(MatMulKernels), _) => MatMulWork(P<DType>("DType"), P<string>("Shape"), P<int>("T")),
            (nameof(AttentionKernels), _) => new(Flops: AttentionKernels.Flops(P<int>(nameof(AttentionKernels.Queries)))),
            _ => new(),
        };
    }

    /// <summary>The model a forward benchmark case runs.</summary>
    public static ModelSpec SpecOf(BenchmarkCase c) => ModelSpec.Preset(BenchModels.PresetOf(c.Descriptor.Type));

    /// <summary>
    /// Prefill of T tokens: 2·(block matrix params)·T, the head for the last token only, and causal attention
    /// counted explicitly (q·k and p·v: 4·layers·heads·headDim flops per (query, key) pair, T(T+1)/2 pairs).
    /// </summary>
    public static Workload PrefillWork(ModelSpec s, int tokens)
    {
        double matmul = 2.0 * s.BlockMatrixParameters * tokens + 2.0 * s.HeadParameters;
        double attention = 4.0 * s.Layers * s.Heads * s.HeadDim * (tokens * (tokens + 1.0) / 2);
        return new(Flops: matmul + attention, Tokens: tokens);
    }

    /// <summary>
    /// One decode step for a batch: every weight matrix is read once (a tied head once, as the embedding it is);
    /// each token multiplies through all of them.
    /// </summary>
    public static Workload DecodeStep(ModelSpec s, DType dtype, int batch)
    {
        double flops = 2.0 * (s.BlockMatrixParameters + s.HeadParameters) * batch;
        return new(Bytes: s.DecodeWeightBytes(dtype), Flops: flops, Tokens: batch);
    }

    public static Workload MatMulWork(DType dtype, string shape, int t)
    {
        var parts = shape.Split('x').Select(long.Parse).ToArray();
        double weights = parts[0] * parts[1];
        return new(Bytes: weights * dtype.SizeOf(), Flops: 2 * weights * t);
    }
}
