using System.Text;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using NativeLayers.Loading;
using NativeLayers.ModelGen;

namespace NativeLayers.Bench;

/// <summary>
/// The post-run table: each forward case against the machine's ceilings measured in the same run (or the
/// platform-notes figures when MachineCeilings was filtered out), and against the platform-notes figures measured
/// on the quiet machine. A ceiling is a best case, so it uses the fastest iteration; the cases use the mean.
/// Decode is compared with the roofline min(batch · bandwidth / weight bytes, FMA peak / flops per token); prefill
/// with the FMA peak.
/// </summary>
public static class Report
{
    private const double NotesBandwidth = 78e9, NotesFmaPeak = 516e9; // platform-notes §0, 2 threads
    private const double DecodeTarget = 0.70, PrefillTarget = 0.50;

    private sealed record Result(BenchmarkCase Case, double Seconds, double BestSeconds, Workload Work);

    public static string Build(IEnumerable<Summary> summaries)
    {
        var results = summaries.SelectMany(s => s.Reports)
            .Where(r => r.ResultStatistics != null)
            .Select(r => new Result(r.BenchmarkCase, r.ResultStatistics!.Mean * 1e-9, r.ResultStatistics.Min * 1e-9, Workload.Of(r.BenchmarkCase)))
            .ToList();
        var text = new StringBuilder();

        double Rate(string method, Func<Workload, double> amount) =>
            results.Where(r => r.Case.Descriptor.WorkloadMethod.Name == method).Select(r => amount(r.Work) / r.BestSeconds).FirstOrDefault();
        double bandwidth = Rate(nameof(MachineCeilings.ReadAllThreads), w => w.Bytes);
        double fmaPeak = Rate(nameof(MachineCeilings.FmaAllThreads), w => w.Flops);
        double expPeak = Rate(nameof(MachineCeilings.ExpAllThreads), w => w.Exponentials);
        string source = bandwidth > 0 && fmaPeak > 0 ? "measured in this run" : "platform-notes figures (MachineCeilings not run)";
        if (bandwidth <= 0) bandwidth = NotesBandwidth;
        if (fmaPeak <= 0) fmaPeak = NotesFmaPeak;

        text.AppendLine("## Forward passes vs machine ceilings");
        text.AppendLine();
        text.AppendLine($"Ceilings ({source}, fastest iteration): read bandwidth {bandwidth / 1e9:N1} GB/s, FMA peak {fmaPeak / 1e9:N1} GFLOP/s, {MachineCeilings.AllThreads} threads.");
        text.AppendLine($"Quiet-machine ceilings (platform-notes): {NotesBandwidth / 1e9:N0} GB/s, {NotesFmaPeak / 1e9:N0} GFLOP/s. Targets are judged on the in-run ratio.");
        var forward = results.Where(r => IsForward(r.Case)).ToLookup(r => BenchModels.PresetOf(r.Case.Descriptor.Type));
        foreach (string preset in BenchModels.Presets.Where(forward.Contains))
            ModelTable(text, preset, [.. forward[preset]], bandwidth, fmaPeak);

        var kernels = results.Where(r => r.Case.Descriptor.Type == typeof(MatMulKernels)).ToList();
        if (kernels.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("## MatMul.Run alone (T = 1 against the bandwidth ceiling, T = 128 against the FMA peak)");
            text.AppendLine();
            text.AppendLine("| Weights | Shape (out×in) | T | Time/op | GB/s | GFLOP/s | Ratio |");
            text.AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var r in kernels)
            {
                int t = (int)r.Case.Parameters["T"];
                double gbs = r.Work.Bytes / r.Seconds, gflops = r.Work.Flops / r.Seconds;
                double ratio = t == 1 ? gbs / bandwidth : gflops / fmaPeak;
                text.AppendLine($"| {r.Case.Parameters["DType"]} | {r.Case.Parameters["Shape"]} | {t} | {Ms(r.Seconds)} | " +
                    $"{gbs / 1e9:N1} | {gflops / 1e9:N1} | {ratio:P0} |");
            }
        }
        var attention = results.Where(r => r.Case.Descriptor.Type == typeof(AttentionKernels)).ToList();
        if (attention.Count > 0)
        {
            text.AppendLine();
            var spec = BenchModels.Spec;
            text.AppendLine($"## Attention.Run alone (one {BenchModels.Preset} layer; × {spec.Layers} layers per forward pass)");
            text.AppendLine();
            text.AppendLine("| Queries | Cached before | Time/op | × layers | GFLOP/s | Ratio to FMA peak |");
            text.AppendLine("|---:|---:|---:|---:|---:|---:|");
            foreach (var r in attention)
            {
                int queries = (int)r.Case.Parameters[nameof(AttentionKernels.Queries)];
                double gflops = r.Work.Flops / r.Seconds;
                text.AppendLine($"| {queries} | {(queries == 1 ? Decode.Context : 0)} | {Ms(r.Seconds)} | {Ms(r.Seconds * spec.Layers)} | " +
                    $"{gflops / 1e9:N1} | {gflops / fmaPeak:P0} |");
            }
        }
        var scans = results.Where(r => r.Case.Descriptor.Type == typeof(SelectiveScanKernels)).ToList();
        if (scans.Count > 0)
        {
            text.AppendLine();
            text.AppendLine($"## Selective scan alone ({SelectiveScanKernels.Spec.Id}: all {SelectiveScanKernels.Spec.Layers} layers of one sequence)");
            text.AppendLine();
            text.AppendLine(expPeak > 0
                ? $"In-run exponential throughput (Vector256.Exp, {MachineCeilings.AllThreads} threads, fastest iteration): {expPeak / 1e9:N2} G/s."
                : "The exponential bound needs MachineCeilings.ExpAllThreads in the same run.");
            text.AppendLine();
            text.AppendLine("| Tokens | Time/op | Traffic | Traffic bound (in-run bandwidth) | Time / traffic bound | Exponentials | exp bound (in-run) | Time / exp bound | exp/s |");
            text.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in scans)
            {
                int t = (int)r.Case.Parameters[nameof(SelectiveScanKernels.Tokens)];
                double bytes = SelectiveScanKernels.TrafficBytes(t), bound = bytes / bandwidth;
                double exps = SelectiveScanKernels.Exponentials(t), expBound = expPeak > 0 ? exps / expPeak : double.NaN;
                text.AppendLine($"| {t} | {Ms(r.Seconds)} | {bytes / 1e6:N2} MB | {Ms(bound)} | {r.Seconds / bound:N2}× | {exps / 1e6:N1} M | " +
                    $"{(expPeak > 0 ? Ms(expBound) : "–")} | {(expPeak > 0 ? $"{r.Seconds / expBound:N2}×" : "–")} | {exps / r.Seconds / 1e9:N2} G |");
            }
        }
        var sae = results.Where(r => r.Case.Descriptor.Type == typeof(SaeCost)).ToList();
        if (sae.Count == 2)
        {
            double plain = sae.First(r => !(bool)r.Case.Parameters[nameof(SaeCost.WithSae)]).Seconds;
            double with = sae.First(r => (bool)r.Case.Parameters[nameof(SaeCost.WithSae)]).Seconds;
            double bound = SaeCost.EncoderFlops / fmaPeak;
            text.AppendLine();
            text.AppendLine($"## SAE on the forward pass ({BenchModels.Preset}, {SaeCost.Tokens}-token prefill, JumpReLU d_sae = {SaeCost.Expansion} × d_model at block {SaeCost.Layer})");
            text.AppendLine();
            text.AppendLine("| Plain | With the SAE | Added | Encoder FLOPs at the FMA peak | Added / bound | With / plain |");
            text.AppendLine("|---:|---:|---:|---:|---:|---:|");
            text.AppendLine($"| {Ms(plain)} | {Ms(with)} | {Ms(with - plain)} | {Ms(bound)} | {(with - plain) / bound:N2}× | {with / plain:N3} |");
        }
        var patching = results.Where(r => r.Case.Descriptor.Type == typeof(PatchingCost)).ToList();
        if (patching.Count == 2)
        {
            double grid = patching.First(r => r.Case.Descriptor.WorkloadMethod.Name == nameof(PatchingCost.BatchedGrid)).Seconds;
            double naive = patching.First(r => r.Case.Descriptor.WorkloadMethod.Name == nameof(PatchingCost.NaiveFullForwards)).Seconds;
            text.AppendLine();
            text.AppendLine($"## Activation patching ({BenchModels.Preset}, resid_pre, {BenchModels.Spec.Layers} blocks × {PatchingCost.Positions} positions)");
            text.AppendLine();
            text.AppendLine("| Batched, resumed grid | Naive full forwards | Grid / naive | Target |");
            text.AppendLine("|---:|---:|---:|---:|");
            text.AppendLine($"| {Ms(grid)} | {Ms(naive)} | {grid / naive:N3} | ≤ 0.333 |");
        }
        return text.ToString();
    }

    private static bool IsForward(BenchmarkCase c) =>
        c.Descriptor.Type.IsSubclassOf(typeof(PrefillBenchmark)) || c.Descriptor.Type.IsSubclassOf(typeof(DecodeBenchmark));

    /// <summary>One model's forward cases: decode against the roofline, prefill against the FMA peak.</summary>
    private static void ModelTable(StringBuilder text, string preset, List<Result> results, double bandwidth, double fmaPeak)
    {
        var spec = ModelSpec.Preset(preset);
        text.AppendLine();
        text.AppendLine($"### {preset}: {spec.Id}, {spec.ParameterCount / 1e6:N1} M params");
        text.AppendLine();
        text.AppendLine($"Weight bytes per decode step: F32 {spec.DecodeWeightBytes(DType.F32) / 1e6:N1} MB, BF16 {spec.DecodeWeightBytes(DType.BF16) / 1e6:N1} MB " +
            $"(block matrices + {(spec.TiedHead ? "the head tied to the embedding, counted once" : "the untied head")}).");
        text.AppendLine();
        text.AppendLine("| Case | Time/op (mean) | tok/s | Achieved | Ceiling (in run) | Ratio | Ratio vs notes | Target | Met |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|:---:|");
        foreach (var r in results.Where(r => r.Case.Descriptor.Type.IsSubclassOf(typeof(DecodeBenchmark))))
        {
            var dtype = (DType)r.Case.Parameters[nameof(DecodeBenchmark.DType)];
            int batch = (int)r.Case.Parameters[nameof(DecodeBenchmark.Batch)];
            double tokens = r.Work.Tokens / r.Seconds;
            double Roofline(double bw, double peak) => Math.Min(batch * bw / r.Work.Bytes, peak * batch / r.Work.Flops);
            double ceiling = Roofline(bandwidth, fmaPeak);
            string bound = batch * bandwidth / r.Work.Bytes <= fmaPeak * batch / r.Work.Flops ? "bandwidth" : "FMA";
            double ratio = tokens / ceiling, notesRatio = tokens / Roofline(NotesBandwidth, NotesFmaPeak);
            string target = batch == 1 ? $"{DecodeTarget:P0}" : "-";
            string met = batch == 1 ? (ratio >= DecodeTarget ? "yes" : "**no**") : "";
            text.AppendLine($"| decode {dtype} batch {batch} (ctx {DecodeBenchmark.Context}) | {Ms(r.Seconds)} | {tokens:N1} | " +
                $"{r.Work.Bytes / r.Seconds / 1e9:N1} GB/s | {ceiling:N1} tok/s ({bound}) | {ratio:P0} | {notesRatio:P0} | {target} | {met} |");
        }
        foreach (var r in results.Where(r => r.Case.Descriptor.Type.IsSubclassOf(typeof(PrefillBenchmark))))
        {
            var dtype = (DType)r.Case.Parameters[nameof(PrefillBenchmark.DType)];
            double flops = r.Work.Flops / r.Seconds, ratio = flops / fmaPeak;
            text.AppendLine($"| prefill {dtype} {r.Work.Tokens:N0} tokens | {Ms(r.Seconds)} | {r.Work.Tokens / r.Seconds:N1} | " +
                $"{flops / 1e9:N1} GFLOP/s | {fmaPeak / 1e9:N1} GFLOP/s | {ratio:P0} | {flops / NotesFmaPeak:P0} | {PrefillTarget:P0} | {(ratio >= PrefillTarget ? "yes" : "**no**")} |");
        }
    }

    private static string Ms(double seconds) => seconds >= 1e-3 ? $"{seconds * 1e3:N2} ms" : $"{seconds * 1e6:N1} µs";
}
