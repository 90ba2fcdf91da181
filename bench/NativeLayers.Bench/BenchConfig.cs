using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace NativeLayers.Bench;

/// <summary>
/// The fast in-process job from platform-notes §3: 2 warmups, 5 × 100 ms iterations, one launch, no log file,
/// plus rate columns computed from each benchmark's <see cref="Workload"/>.
/// </summary>
public class BenchConfig : ManualConfig
{
    public BenchConfig() : this(invocationCount: null) { }

    protected BenchConfig(int? invocationCount)
    {
        var job = Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(2).WithIterationCount(5).WithIterationTime(TimeInterval.FromMilliseconds(100)).WithLaunchCount(1);
        if (invocationCount is int n) job = job.WithInvocationCount(n).WithUnrollFactor(1);
        AddJob(job);
        WithOptions(ConfigOptions.DisableLogFile);
        AddColumn(new RateColumn("GB/s", "weight or data bytes per second (1 GB = 1e9 B)", w => w.Bytes, 1e9),
            new RateColumn("GFLOP/s", "flops per second (attention included for prefill)", w => w.Flops, 1e9),
            new RateColumn("tok/s", "tokens per second", w => w.Tokens, 1));
    }
}

/// <summary>Forward passes take 10–500 ms each: one invocation per iteration (Decode needs it for its IterationSetup).</summary>
public class ForwardConfig() : BenchConfig(invocationCount: 1);

/// <summary>A Workload quantity divided by BenchmarkDotNet's mean time per operation.</summary>
public sealed class RateColumn(string name, string legend, Func<Workload, double> amount, double scale) : IColumn
{
    public string Id => "Rate." + name;
    public string ColumnName => name;
    public string Legend => legend;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        double work = amount(Workload.Of(benchmarkCase));
        return meanNs is > 0 && work > 0 ? (work / (meanNs.Value * 1e-9) / scale).ToString("N1") : "-";
    }
}
