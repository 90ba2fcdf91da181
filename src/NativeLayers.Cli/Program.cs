using NativeLayers.Cli;

// Exceptions on other threads (thread pool, progress callbacks) would otherwise end the process with the runtime's stack trace.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    ErrorReport.Write(Console.Error, (Exception)e.ExceptionObject, "nl", args.Contains(ErrorReport.VerboseFlag));
    Environment.Exit(CliApp.UserError);
};
return CliApp.Run(args);
