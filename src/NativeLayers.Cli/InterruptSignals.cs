using System.Runtime.InteropServices;

namespace NativeLayers.Cli;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM as a cancellation token for the length of a long job, so it can stop between steps with
/// its output consistent instead of being killed mid-write.
/// </summary>
public sealed class InterruptSignals : IDisposable
{
    /// <summary>The conventional exit status of a job stopped by SIGINT.</summary>
    public const int ExitCode = 130;

    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;

    public InterruptSignals()
    {
        _registrations = [Register(PosixSignal.SIGINT), Register(PosixSignal.SIGTERM)];
    }

    public CancellationToken Token => _cancel.Token;

    private PosixSignalRegistration Register(PosixSignal signal) => PosixSignalRegistration.Create(signal, context =>
    {
        context.Cancel = true; // keep the process alive: the job stops at its next step
        _cancel.Cancel();
    });

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _cancel.Dispose();
    }
}
