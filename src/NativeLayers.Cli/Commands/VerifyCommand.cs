using System.CommandLine;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Backends;
using Spectre.Console;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl verify`: the same random batch on a device and on the CPU backend; every slot and the logits compared.</summary>
public static class VerifyCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var device = CommonOptions.Device();
        var tokens = new Option<int>("--tokens") { Description = "Tokens per sequence.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var batch = new Option<int>("--batch", "-b") { Description = "Sequences (of different lengths).", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var tolerance = new Option<double>("--tolerance") { Description = "Largest allowed |device − cpu| / max |cpu| per tensor.", DefaultValueFactory = _ => 1e-3 }.AtLeast(0.0);
        var command = new Command("verify", "Run a random batch on --device and on the CPU backend and compare every residual slot and the logits.")
            { model, device, tokens, batch, tolerance };
        command.SetAction(parse =>
        {
            string dir = CommonOptions.ModelDirectory(parse.GetValue(model));
            var target = BackendChoice.Resolve(parse.GetValue(device)!);
            if (target == DeviceKind.Cpu)
                throw new NativeLayersException(parse.GetResult(device) is { Implicit: false }
                    ? "verify compares a device with the CPU backend; --device cpu would compare the CPU backend with itself. Use --device cuda or ilgpu-cpu."
                    : "no CUDA device is available, so --device auto means the CPU backend, which verify would compare with itself. Use --device ilgpu-cpu to check the GPU kernels on the CPU.");
            using var cpu = Transformer.Load(dir);
            using var other = Transformer.Load(dir, BackendChoice.Options(target, 0));
            var random = new Random(11);
            int n = parse.GetValue(tokens), b = parse.GetValue(batch);
            var inputs = Enumerable.Range(0, b).Select(i => Enumerable.Range(0, Math.Max(1, n - i)).Select(_ => random.Next(cpu.VocabSize)).ToArray()).ToArray();
            var expected = cpu.Forward(inputs);
            var actual = other.Forward(inputs);
            var table = new Table().Border(TableBorder.Rounded)
                .Title($"{DeviceKinds.Name(other.Device)} vs cpu, {b} sequences of up to {n} tokens")
                .AddColumns("tensor", "max |Δ|", "max |cpu|", "relative");
            double worst = 0;
            void Compare(string name, ReadOnlySpan<float> e, ReadOnlySpan<float> a)
            {
                double maxDiff = 0, maxAbs = 0;
                for (int i = 0; i < e.Length; i++)
                {
                    maxDiff = Math.Max(maxDiff, double.IsNaN(a[i]) ? double.PositiveInfinity : Math.Abs(e[i] - a[i]));
                    maxAbs = Math.Max(maxAbs, Math.Abs(e[i]));
                }
                double relative = maxDiff / Math.Max(maxAbs, 1e-12);
                worst = Math.Max(worst, relative);
                table.AddRow(name, $"{maxDiff:E2}", $"{maxAbs:F3}", $"{relative:E2}");
            }
            for (int slot = 0; slot <= cpu.Layers; slot++) Compare($"resid.{slot}", expected.Residual.Slot(slot), actual.Residual.Slot(slot));
            if (expected.Logits != null) Compare("logits", expected.Logits, actual.Logits);
            var console = CliApp.Console(parse.InvocationConfiguration.Output);
            console.Write(table);
            bool ok = worst <= parse.GetValue(tolerance);
            console.MarkupLine(ok ? $"[green]ok[/]: worst relative difference {worst:E2}" : $"[red]FAILED[/]: worst relative difference {worst:E2} > {parse.GetValue(tolerance):E1}");
            return ok ? 0 : CliApp.UserError;
        });
        return command;
    }
}
