namespace NativeLayers.Loading;

/// <summary>
/// An error a user can cause (bad file, bad option, bad vector). The CLI prints its message as one line;
/// everything else is a bug and keeps its stack trace.
/// </summary>
public class NativeLayersException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A problem with a file on disk; the message always starts with the file's path.</summary>
public class ModelFileException(string filePath, string problem, Exception? inner = null)
    : NativeLayersException($"{filePath}: {problem}", inner)
{
    public string FilePath { get; } = filePath;
    public string Problem { get; } = problem;
}
