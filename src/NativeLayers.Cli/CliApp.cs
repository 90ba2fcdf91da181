using System.CommandLine;
using System.CommandLine.Parsing;
using NativeLayers.Cli.Commands;
using NativeLayers.Loading.Hub;
using Spectre.Console;

namespace NativeLayers.Cli;

/// <summary>The `nl` command line: one subcommand per task, user errors as one line and a non-zero exit.</summary>
public static class CliApp
{
    public const int UserError = 1;
    public const int UsageError = 2;

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("NativeLayers: run Hugging Face transformer models natively and read or write their residual stream.");
        root.Options.Add(new Option<bool>(ErrorReport.VerboseFlag)
        {
            Description = "On an error, also print the full exception (type and stack trace).",
            Recursive = true,
        });
        root.Options.Add(CommonOptions.AllowUnusedTensors);
        root.Subcommands.Add(GenerateCommand.Build());
        root.Subcommands.Add(InspectCommand.Build());
        root.Subcommands.Add(TokenizeCommand.Build());
        root.Subcommands.Add(HiddenCommand.Build());
        root.Subcommands.Add(EmbedCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(CaptureCommand.Build());
        root.Subcommands.Add(VectorCommand.Build());
        root.Subcommands.Add(SteerCommand.Build());
        root.Subcommands.Add(VerifyCommand.Build());
        root.Subcommands.Add(MetricsCommand.Build());
        root.Subcommands.Add(CompareCommand.Build());
        root.Subcommands.Add(StitchCommand.Build());
        root.Subcommands.Add(ProbeCommand.Build());
        root.Subcommands.Add(LensCommand.Build());
        root.Subcommands.Add(PatchCommand.Build());
        root.Subcommands.Add(SaeCommand.Build());
        root.Subcommands.Add(StudyCommand.Build());
        root.Subcommands.Add(ServeCommand.Build());
        return root;
    }

    /// <summary>Runs nl; <paramref name="hub"/> replaces the Hugging Face Hub settings of the environment (HF_ENDPOINT, HF_HUB_CACHE, ...).</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null, HubSettings? hub = null) =>
        Run(BuildRoot(), args, output ?? System.Console.Out, error ?? System.Console.Error, hub);

    /// <summary>Runs <paramref name="root"/>: usage errors exit 2; any other failure is one line on <paramref name="error"/> and exit 1.</summary>
    public static int Run(RootCommand root, string[] args, TextWriter output, TextWriter error, HubSettings? hub = null)
    {
        ParseResult? parse = null;
        try
        {
            // Option values are checked while parsing, so Parse itself can throw a NativeLayersException.
            parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                foreach (var e in parse.Errors) error.WriteLine($"error: {e.Message}");
                error.WriteLine("Run 'nl --help' (or 'nl COMMAND --help') for usage.");
                return UsageError;
            }
            CommonOptions.LoadingRules.Value = new CommonOptions.ModelLoadingRules(parse.GetValue(CommonOptions.AllowUnusedTensors), hub, error);
            // No termination timeout: long jobs (capture) handle SIGINT/SIGTERM themselves and stop consistently.
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (Exception e)
        {
            // The flag is read from the arguments because parsing itself may be what failed.
            ErrorReport.Write(error, e, CommandName(parse), args.Contains(ErrorReport.VerboseFlag));
            return UserError;
        }
    }

    /// <summary>"nl vector extract" for the command that ran, "nl" when parsing did not get that far.</summary>
    private static string CommandName(ParseResult? parse)
    {
        var names = new List<string>();
        for (var result = parse?.CommandResult; result?.Parent is CommandResult parent; result = parent) names.Insert(0, result.Command.Name);
        return string.Join(" ", ["nl", .. names]);
    }

    /// <summary>A Spectre console writing to the invocation's output (so tests can capture it).</summary>
    public static IAnsiConsole Console(TextWriter writer)
    {
        bool terminal = (writer == System.Console.Out && !System.Console.IsOutputRedirected) || (writer == System.Console.Error && !System.Console.IsErrorRedirected);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            // A terminal writer is interactive even when the other stream is redirected (stderr's download bars under `nl ... > file`).
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.Detect,
        });
        if (!terminal) console.Profile.Width = 160; // files and pipes: no wrapping at 80 columns
        return console;
    }
}
