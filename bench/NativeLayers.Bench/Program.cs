using BenchmarkDotNet.Running;
using NativeLayers.Bench;

// No arguments runs everything; otherwise the usual BenchmarkDotNet switches (--filter '*Decode*', --list flat, ...).
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly)
    .Run(args.Length == 0 ? ["--filter", "*"] : args).ToList();
if (summaries.Count == 0 || summaries.All(s => s.Reports.Length == 0)) return;

string report = Report.Build(summaries);
Console.WriteLine();
Console.WriteLine(report);
string path = Path.Combine(summaries[0].ResultsDirectoryPath, "forward-vs-ceilings.md");
File.WriteAllText(path, report);
Console.WriteLine($"(written to {path})");
