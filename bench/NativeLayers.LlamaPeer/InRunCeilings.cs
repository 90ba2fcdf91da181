using System.Diagnostics;
using NativeLayers.Bench;

namespace NativeLayers.LlamaPeer;

/// <summary>The bench's read-bandwidth and FMA ceilings (<see cref="MachineCeilings"/>, all threads), fastest of a few calls.</summary>
public sealed record InRunCeilings(double ReadBytesPerSecond, double FlopsPerSecond)
{
    public static InRunCeilings Measure(int readCalls = 5, int fmaCalls = 3)
    {
        var ceilings = new MachineCeilings();
        ceilings.Setup();
        try
        {
            double read = MachineCeilings.ReadBytes / Fastest(readCalls, () => ceilings.ReadAllThreads());
            double fma = (double)MachineCeilings.FlopsPerFmaCall * MachineCeilings.AllThreads / Fastest(fmaCalls, () => ceilings.FmaAllThreads());
            return new InRunCeilings(read, fma);
        }
        finally
        {
            ceilings.Cleanup();
        }
    }

    public InRunCeilings Best(InRunCeilings other) =>
        new(Math.Max(ReadBytesPerSecond, other.ReadBytesPerSecond), Math.Max(FlopsPerSecond, other.FlopsPerSecond));

    private static double Fastest(int calls, Func<float> run)
    {
        run(); // first touch and JIT
        double best = double.MaxValue;
        for (int i = 0; i < calls; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
