using System.Reflection;
using NativeLayers.Loading;

namespace NativeLayers.Cli;

/// <summary>The single line a user sees for any error: what failed and what to do, never a stack trace (unless --verbose).</summary>
public static class ErrorReport
{
    public const string VerboseFlag = "--verbose";

    /// <summary>Writes the error line for <paramref name="e"/>, and with <paramref name="verbose"/> the full exception after it.</summary>
    public static void Write(TextWriter error, Exception e, string command, bool verbose)
    {
        error.WriteLine(Line(e, command));
        if (verbose) error.WriteLine(e.ToString());
    }

    /// <summary>"error: ..." on one line; <paramref name="command"/> names what was running, such as "nl inspect".</summary>
    public static string Line(Exception e, string command)
    {
        e = Innermost(e);
        string text = e switch
        {
            NativeLayersException => e.Message,
            OutOfMemoryException =>
                $"{command} ran out of memory. Free some memory, or use a smaller model, fewer prompts, a smaller --batch or fewer --max-tokens.",
            UnauthorizedAccessException => $"{command}: permission denied: {e.Message} Check the permissions of that path or choose another one.",
            IOException => $"{command}: {e.Message} Check that the path exists and that the disk has free space, then run it again.",
            _ => $"{command} failed unexpectedly ({e.GetType().Name}: {e.Message}). This is a bug in nl: rerun with {VerboseFlag} to see the full exception and report it.",
        };
        return "error: " + string.Join(" ", text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>Parallel loops and reflection wrap the exception that says what went wrong.</summary>
    private static Exception Innermost(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: > 0 } a: e = a.InnerExceptions[0]; break;
                case TargetInvocationException { InnerException: { } inner }: e = inner; break;
                case TypeInitializationException { InnerException: { } inner }: e = inner; break;
                default: return e;
            }
        }
    }
}
