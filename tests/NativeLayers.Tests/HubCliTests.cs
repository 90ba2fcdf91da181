using NativeLayers.Cli;
using NativeLayers.Loading.Hub;

namespace NativeLayers.Tests;

/// <summary>`--model ORG/NAME` end to end: nl against a fake hub on 127.0.0.1 serving stories260k, the cache in a temp folder.</summary>
public sealed class HubCliTests : IDisposable
{
    private readonly FakeHub _hub = new();
    private readonly TempFolder _cache = new();
    private readonly string _commit;

    public HubCliTests() => _commit = _hub.AddCommit("org/tiny", "main", FakeHub.FilesOf(ReferenceData.Stories260k));

    public void Dispose()
    {
        _hub.Dispose();
        _cache.Dispose();
    }

    private HubSettings Settings(bool offline = false) => new() { Endpoint = _hub.Endpoint, CacheRoot = _cache.Path, Offline = offline, RetryDelays = [] };

    private static (int Code, string Out, string Err) Run(HubSettings settings, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error, settings);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void InspectDownloadsAHubModelOnceAndThenReadsItFromTheCache()
    {
        var (code, output, err) = Run(Settings(), "inspect", "--model", "org/tiny");
        Assert.True(code == 0, err);
        Assert.Contains("parameters", output);
        string snapshot = Path.Combine(_cache.Path, "models--org--tiny", "snapshots", _commit);
        Assert.Equal($"downloaded org/tiny from {_hub.Endpoint} into {snapshot}", err.Trim());
        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));

        int requests = _hub.Requests.Count;
        var again = Run(Settings(offline: true), "inspect", "--model", "org/tiny@main");
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal(output, again.Out);
        Assert.Equal(requests, _hub.Requests.Count);
    }

    [Fact]
    public void AModelNeitherOnDiskNorOnTheHubIsOneErrorLine()
    {
        var (code, _, err) = Run(Settings(), "inspect", "--model", "org/missing");
        Assert.Equal(1, code);
        Assert.StartsWith("error: org/missing: there is no model folder of that name, and the Hugging Face Hub", err);
        Assert.Single(err.Trim().Split('\n'));

        var (pathCode, _, pathErr) = Run(Settings(), "inspect", "--model", "./no/such/folder");
        Assert.Equal(1, pathCode);
        Assert.Contains("model folder not found", pathErr);
        Assert.Contains("ORG/NAME", pathErr);
    }
}
