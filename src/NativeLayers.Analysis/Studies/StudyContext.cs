namespace NativeLayers.Analysis.Studies;

/// <summary>Names a report uses in titles and settings: the models and data as given and as short names, and the run time.</summary>
public sealed record StudyContext(string ModelPath, string DataPath)
{
    public string? ModelBPath { get; init; }
    public string? ProbeDataPath { get; init; }
    public string? PairsDataPath { get; init; }
    public double Seconds { get; init; }
    public ulong? Seed { get; init; }

    public string Model => ShortName(ModelPath);
    public string ModelB => ModelBPath is null ? Model : ShortName(ModelBPath);
    public string Data => ShortName(DataPath);
    public string ProbeData => ProbeDataPath is null ? "—" : ShortName(ProbeDataPath);
    public string PairsData => PairsDataPath is null ? "—" : ShortName(PairsDataPath);

    private static string ShortName(string path) => Path.GetFileName(Path.TrimEndingDirectorySeparator(path)) is { Length: > 0 } name ? name : path;
}
