using NativeLayers.Cli;

return CliApp.Run(args);
