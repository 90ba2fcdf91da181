namespace NativeLayers.OnnxPeer;

/// <summary>Command line of the ONNX Runtime peer: --model DIR --rounds N --texts N --tokens N --batches 1,32 --threads N.</summary>
public sealed record PeerSettings(string Model, int Rounds, int Texts, int Tokens, int[] Batches, int Threads)
{
    private static string DefaultModel => Path.Combine(
        Environment.GetEnvironmentVariable("NL_SHARED") is { Length: > 0 } shared ? shared : Path.Combine(RepositoryRoot(), "..", "shared"),
        "models", "all-minilm-l6-v2");

    public static PeerSettings Parse(string[] args)
    {
        var settings = new PeerSettings(DefaultModel, Rounds: 7, Texts: 32, Tokens: 128, Batches: [1, 32], Threads: 0);
        for (int i = 0; i < args.Length; i += 2)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            settings = args[i] switch
            {
                "--model" => settings with { Model = value },
                "--rounds" => settings with { Rounds = int.Parse(value) },
                "--texts" => settings with { Texts = int.Parse(value) },
                "--tokens" => settings with { Tokens = int.Parse(value) },
                "--batches" => settings with { Batches = value.Split(',').Select(int.Parse).ToArray() },
                "--threads" => settings with { Threads = int.Parse(value) },
                _ => throw new ArgumentException($"unknown option {args[i]}; known: --model --rounds --texts --tokens --batches --threads."),
            };
        }
        if (settings.Batches.Any(b => b < 1 || settings.Texts % b != 0))
            throw new ArgumentException($"every batch size must divide --texts ({settings.Texts}).");
        return settings;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeLayers.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
