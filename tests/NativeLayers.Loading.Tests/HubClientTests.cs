using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NativeLayers.Loading.Hub;

namespace NativeLayers.Loading.Tests;

/// <summary>
/// The hub client against <see cref="FakeHub"/> on 127.0.0.1, serving stories260k (plus files nl must not fetch) as
/// the public hub serves a model; every cache is a temp folder and nothing reaches the internet.
/// </summary>
public sealed class HubClientTests : IDisposable
{
    private const string Repo = "org/tiny";
    private readonly FakeHub _hub = new();
    private readonly TempDir _cache = new();
    private readonly string _main;

    public HubClientTests()
    {
        var files = FakeHub.FilesOf(Shared.Stories);
        files["pytorch_model.bin"] = new byte[4096];
        files["README.md"] = "# tiny"u8.ToArray();
        files["onnx/model.onnx"] = new byte[100];
        _main = _hub.AddCommit(Repo, "main", files);
    }

    public void Dispose()
    {
        _hub.Dispose();
        _cache.Dispose();
    }

    private HubSettings Settings(bool offline = false, string? token = null, string? endpoint = null) => new()
    {
        Endpoint = endpoint ?? _hub.Endpoint,
        CacheRoot = _cache.Path,
        Token = token,
        Offline = offline,
        RetryDelays = [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)],
        StallTimeout = TimeSpan.FromSeconds(20),
    };

    private async Task<string> Download(string model = Repo, HubSettings? settings = null, IProgress<HubDownloadProgress>? progress = null)
    {
        Assert.True(HubModelReference.TryParse(model, out var reference));
        using var client = new HubClient(settings ?? Settings());
        return await client.GetSnapshotAsync(reference, progress);
    }

    private async Task<NativeLayersException> DownloadFails(string model = Repo, HubSettings? settings = null) =>
        await Assert.ThrowsAnyAsync<NativeLayersException>(() => Download(model, settings));

    private string RepoFolder(string repo = Repo) => Path.Combine(_cache.Path, "models--" + repo.Replace("/", "--"));

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public async Task AFreshDownloadLaysOutTheCacheAsHuggingfaceHubDoes()
    {
        var reported = new List<HubDownloadProgress>();
        string snapshot = await Download(progress: new SynchronousReport<HubDownloadProgress>(reported.Add));

        Assert.Equal(Path.Combine(RepoFolder(), "snapshots", _main), snapshot);
        Assert.Equal(_main, File.ReadAllText(Path.Combine(RepoFolder(), "refs", "main")));
        string[] expected = ["config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.model", "tokenizer_config.json"];
        Assert.Equal(expected, Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (string name in expected)
        {
            var file = _hub.File(Repo, _main, name);
            string etag = file.Lfs ? file.Sha256 : file.GitHash;
            Assert.Equal($"../../blobs/{etag}", new FileInfo(Path.Combine(snapshot, name)).LinkTarget);
            Assert.Equal(file.Content, File.ReadAllBytes(Path.Combine(snapshot, name)));
        }
        Assert.Equal(expected.Length, Directory.GetFiles(Path.Combine(RepoFolder(), "blobs")).Length); // no .incomplete left
        Assert.Equal(_hub.File(Repo, _main, "model.safetensors").Sha256, Sha256(Path.Combine(snapshot, "model.safetensors")));
        using (var model = ModelFolder.Open(snapshot)) Assert.Equal("llama", model.Config.ModelType);

        Assert.DoesNotContain(_hub.Requests, r => r.Path.Contains("pytorch_model.bin") || r.Path.Contains("README") || r.Path.Contains("onnx"));
        Assert.Equal(2, _hub.CdnRequests.Count()); // the two LFS files, model.safetensors and tokenizer.model
        Assert.All(_hub.CdnRequests, r => Assert.Equal("GET", r.Method)); // HEAD stopped at the hub's redirect
        var last = reported.Last(p => p.File == "model.safetensors");
        Assert.Equal((last.TotalBytes, last.TotalBytes), (last.BytesDone, new FileInfo(Path.Combine(Shared.Stories, "model.safetensors")).Length));
    }

    [Fact]
    public async Task ASecondCallMakesNoRequests()
    {
        string first = await Download();
        int requests = _hub.Requests.Count;
        Assert.Equal(first, await Download());
        Assert.Equal(requests, _hub.Requests.Count);
    }

    [Fact]
    public async Task OfflineUsesTheCacheAndNamesWhatIsMissingWithoutIt()
    {
        var missing = await DownloadFails(settings: Settings(offline: true));
        Assert.IsType<HubModelNotFoundException>(missing);
        Assert.Contains("HF_HUB_OFFLINE", missing.Message);
        Assert.Contains(Path.Combine(RepoFolder(), "refs", "main"), missing.Message);
        Assert.Empty(_hub.Requests);

        string snapshot = await Download();
        int requests = _hub.Requests.Count;
        Assert.Equal(snapshot, await Download(settings: Settings(offline: true)));
        Assert.Equal(snapshot, await Download($"{Repo}@{_main}", Settings(offline: true)));
        Assert.Equal(requests, _hub.Requests.Count);

        File.Delete(Path.Combine(snapshot, "model.safetensors"));
        var partial = await DownloadFails(settings: Settings(offline: true));
        Assert.Contains("lacks model.safetensors", partial.Message);
    }

    [Fact]
    public async Task ACacheWrittenByPythonIsUsedInPlaceWithTheHubDown()
    {
        // As huggingface_hub writes it: refs/main, blobs named by ETag, snapshot entries as relative links.
        string commit = new string('a', 40);
        string folder = Path.Combine(_cache.Path, "models--TinyOrg--stories");
        Directory.CreateDirectory(Path.Combine(folder, "refs"));
        File.WriteAllText(Path.Combine(folder, "refs", "main"), commit);
        foreach (string file in Directory.GetFiles(Shared.Stories))
        {
            string blob = Path.Combine(folder, "blobs", Sha256(file));
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            File.Copy(file, blob, overwrite: true);
            string link = Path.Combine(folder, "snapshots", commit, Path.GetFileName(file));
            Directory.CreateDirectory(Path.GetDirectoryName(link)!);
            File.CreateSymbolicLink(link, Path.Combine("..", "..", "blobs", Sha256(file)));
        }
        _hub.Dispose();

        string snapshot = await Download("TinyOrg/stories");
        Assert.Equal(Path.Combine(folder, "snapshots", commit), snapshot);
        Assert.Equal(snapshot, await Download($"TinyOrg/stories@{commit}"));
        using var model = ModelFolder.Open(snapshot);
        Assert.Equal(Path.Combine(snapshot, "model.safetensors"), model.Weights.Files[0].Path);
    }

    [Fact]
    public async Task TwoRevisionsSharingAFileKeepOneBlob()
    {
        var files = FakeHub.FilesOf(Shared.Stories);
        files["config.json"] = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(files["config.json"]).Replace("{", "{\"_name_or_path\": \"v2\", "));
        string v2 = _hub.AddCommit(Repo, "v2", files);

        string main = await Download();
        string second = await Download($"{Repo}@v2");
        Assert.Equal(v2, File.ReadAllText(Path.Combine(RepoFolder(), "refs", "v2")));
        Assert.NotEqual(File.ReadAllText(Path.Combine(main, "config.json")), File.ReadAllText(Path.Combine(second, "config.json")));
        string weights = new FileInfo(Path.Combine(second, "model.safetensors")).LinkTarget!;
        Assert.Equal(new FileInfo(Path.Combine(main, "model.safetensors")).LinkTarget, weights);
        Assert.Equal(7, Directory.GetFiles(Path.Combine(RepoFolder(), "blobs")).Length); // six files, and v2's config
        Assert.Single(_hub.CdnRequests, r => r.Path.EndsWith(_hub.File(Repo, v2, "model.safetensors").Sha256));
    }

    [Fact]
    public async Task ADownloadThatBreaksOffResumesWithARangeRequest()
    {
        const long sent = 300_000;
        var model = _hub.File(Repo, _main, "model.safetensors");
        _hub.DropDownloads(model, afterBytes: sent);
        var broken = await DownloadFails();
        Assert.Contains("broke off after 300,000 of", broken.Message);
        Assert.Contains("run the command again to resume", broken.Message, StringComparison.OrdinalIgnoreCase);
        string incomplete = Path.Combine(RepoFolder(), "blobs", model.Sha256 + ".incomplete");
        Assert.Equal(sent, new FileInfo(incomplete).Length);

        string snapshot = await Download();
        var downloads = _hub.CdnRequests.Where(r => r.Path.EndsWith(model.Sha256)).ToList();
        Assert.Equal(2, downloads.Count);
        Assert.Null(downloads[0].Range);
        Assert.Equal($"bytes={sent}-", downloads[1].Range);
        Assert.Equal(model.Sha256, Sha256(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(incomplete));
    }

    [Fact]
    public async Task ContentWhoseSha256IsNotTheEtagIsRejected()
    {
        _hub.CorruptLfs = true;
        var e = await DownloadFails();
        Assert.Contains("SHA-256", e.Message);
        Assert.Contains("deleted", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoFolder(), "blobs"), "*.incomplete"));
        Assert.False(File.Exists(Path.Combine(RepoFolder(), "snapshots", _main, "model.safetensors")));

        _hub.CorruptLfs = false;
        Assert.Equal(_hub.File(Repo, _main, "model.safetensors").Sha256, Sha256(Path.Combine(await Download(), "model.safetensors")));
    }

    [Fact]
    public async Task AGatedRepositoryWithoutATokenSaysToSetHfTokenAndAcceptTheLicence()
    {
        _hub.RequiredToken = "hf_secret";
        var e = await DownloadFails();
        Assert.Contains("401", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
        Assert.Contains($"accept the licence at {_hub.Endpoint}/{Repo}", e.Message);
    }

    [Fact]
    public async Task TheTokenGoesToTheHubButNotToTheStorageItRedirectsTo()
    {
        _hub.RequiredToken = "hf_secret";
        await Download(settings: Settings(token: "hf_secret"));
        Assert.All(_hub.HubRequests, r => Assert.Equal("Bearer hf_secret", r.Authorization));
        Assert.NotEmpty(_hub.CdnRequests);
        Assert.All(_hub.CdnRequests, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task ARelativeRedirectToTheStorageIsFollowed()
    {
        _hub.RelativeCdnRedirect = true;
        string snapshot = await Download();
        Assert.Equal(_hub.File(Repo, _main, "model.safetensors").Content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.All(_hub.CdnRequests, r => Assert.False(r.ToCdn));
    }

    [Fact]
    public async Task MissingRepositoriesRevisionsAndFilesAreNamed()
    {
        var repo = await DownloadFails("org/missing");
        Assert.IsType<HubModelNotFoundException>(repo);
        Assert.Contains("has no repository org/missing (404)", repo.Message);

        var revision = await DownloadFails($"{Repo}@nope");
        Assert.Contains($"{Repo} has no revision 'nope'", revision.Message);

        _hub.AddCommit("org/listed", "main", FakeHub.FilesOf(Shared.Stories), "tokenizer.json");
        var file = await DownloadFails("org/listed");
        Assert.Contains("tokenizer.json not found in org/listed", file.Message);
    }

    [Fact]
    public async Task ServerErrorsAreRetriedThenReported()
    {
        _hub.Refuse = r => r.Path.StartsWith("/api/") ? 500 : null;
        var e = await DownloadFails();
        Assert.Contains("server error (500", e.Message);
        Assert.Contains("after 3 tries", e.Message);
        Assert.Equal(3, _hub.Requests.Count);

        int failures = 1;
        _hub.Refuse = r => r.Path.StartsWith("/api/") && Interlocked.Decrement(ref failures) >= 0 ? 503 : null;
        await Download();
    }

    [Fact]
    public async Task AnUnreachableHubSaysSoAndPointsAtOfflineMode()
    {
        _hub.Dispose();
        var e = await DownloadFails();
        Assert.Contains("cannot reach 127.0.0.1", e.Message);
        Assert.Contains("HF_HUB_OFFLINE=1", e.Message);
    }

    [Fact]
    public async Task ARepositoryWithoutSafetensorsSaysToConvertIt()
    {
        _hub.AddCommit("org/pytorch", "main", new Dictionary<string, byte[]>
        {
            ["config.json"] = File.ReadAllBytes(Path.Combine(Shared.Stories, "config.json")),
            ["pytorch_model.bin"] = new byte[64],
        });
        var e = await DownloadFails("org/pytorch");
        Assert.Contains("only pytorch_model.bin", e.Message);
        Assert.Contains("convert it", e.Message);
        Assert.DoesNotContain(_hub.Requests, r => r.Path.Contains("/resolve/"));
    }

    [Fact]
    public async Task ShardedWeightsComeThroughTheirIndex()
    {
        var files = FakeHub.FilesOf(Shared.Stories);
        files.Remove("model.safetensors");
        using var shards = new TempDir();
        using (var source = SafetensorsFile.Open(Path.Combine(Shared.Stories, "model.safetensors")))
        {
            var all = source.Tensors.Select(t => new TensorData(t.Name, t.DType, t.Shape, source.Bytes(t).ToArray())).ToList();
            var weightMap = new Dictionary<string, string>();
            for (int part = 0; part < 2; part++)
            {
                string name = $"model-0000{part + 1}-of-00002.safetensors";
                var tensors = all.Where((_, i) => i % 2 == part).ToList();
                SafetensorsWriter.Write(shards.File(name), tensors, source.Metadata);
                files[name] = File.ReadAllBytes(shards.File(name));
                foreach (var t in tensors) weightMap[t.Name] = name;
            }
            files[WeightStore.IndexFileName] = JsonSerializer.SerializeToUtf8Bytes(new { metadata = new { total_size = 1 }, weight_map = weightMap });
        }
        files["consolidated.safetensors"] = new byte[128]; // another copy of the weights in some repositories: not fetched
        files["modules.json"] = """[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"""u8.ToArray();
        files["1_Pooling/config.json"] = """{"pooling_mode_mean_tokens": true}"""u8.ToArray();
        string commit = _hub.AddCommit("org/sharded", "main", files);

        string snapshot = await Download("org/sharded");
        using var model = ModelFolder.Open(snapshot);
        Assert.Equal(2, model.Weights.Files.Count);
        Assert.DoesNotContain(_hub.Requests, r => r.Path.Contains("consolidated"));
        Assert.Equal($"../../../blobs/{_hub.File("org/sharded", commit, "1_Pooling/config.json").GitHash}",
            new FileInfo(Path.Combine(snapshot, "1_Pooling", "config.json")).LinkTarget);
    }

    [Fact]
    public async Task ConcurrentDownloadsOfOneModelFetchEachBlobOnce()
    {
        var snapshots = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Download())));
        Assert.All(snapshots, s => Assert.Equal(snapshots[0], s));
        Assert.Single(_hub.CdnRequests, r => r.Path.EndsWith(_hub.File(Repo, _main, "model.safetensors").Sha256));
        Assert.Equal(6, Directory.GetFiles(snapshots[0]).Length);
        Assert.Equal(6, Directory.GetFiles(Path.Combine(RepoFolder(), "blobs")).Length);
    }

    [SkippableFact]
    public async Task AFullDiskNamesTheCacheFolder()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && File.Exists("/dev/full"), "needs /dev/full");
        // The blob being written is /dev/full, where every write fails with ENOSPC.
        string blobs = Path.Combine(RepoFolder(), "blobs");
        Directory.CreateDirectory(blobs);
        File.CreateSymbolicLink(Path.Combine(blobs, _hub.File(Repo, _main, "model.safetensors").Sha256 + ".incomplete"), "/dev/full");
        var e = await DownloadFails();
        Assert.StartsWith(_cache.Path + ": no space left on the disk of the hub cache", e.Message);
        Assert.Contains("HF_HUB_CACHE", e.Message);
    }

    [Theory]
    [InlineData("gpt2", "gpt2", "main")]
    [InlineData("org/name", "org/name", "main")]
    [InlineData("Qwen/Qwen2.5-0.5B@v1.0", "Qwen/Qwen2.5-0.5B", "v1.0")]
    [InlineData("org/name@refs/pr/1", "org/name", "refs/pr/1")]
    [InlineData("sentence-transformers/all-MiniLM-L6-v2@0123456789abcdef0123456789abcdef01234567", "sentence-transformers/all-MiniLM-L6-v2", "0123456789abcdef0123456789abcdef01234567")]
    public void RepositoryIdsAndRevisionsParse(string text, string repo, string revision)
    {
        Assert.True(HubModelReference.TryParse(text, out var reference));
        Assert.Equal((repo, revision), (reference.RepoId, reference.Revision));
        Assert.Equal(text, reference.ToString());
    }

    [Theory]
    [InlineData("./model")]
    [InlineData("/abs/path")]
    [InlineData("a/b/c")]
    [InlineData("org--x/name")]
    [InlineData("org/name@")]
    [InlineData("org/name@../../x")]
    [InlineData("-org/name")]
    [InlineData("C:\\models\\x")]
    [InlineData("")]
    public void PathsAndMalformedIdsAreNotRepositories(string text) => Assert.False(HubModelReference.TryParse(text, out _));

    [Fact]
    public void SettingsComeFromTheVariablesHuggingfaceHubReads()
    {
        HubSettings From(params (string Name, string Value)[] variables) =>
            HubSettings.FromEnvironment(name => variables.FirstOrDefault(v => v.Name == name).Value, "/home/u");

        var defaults = From();
        Assert.Equal(("https://huggingface.co", "/home/u/.cache/huggingface/hub", (string?)null, false), (defaults.Endpoint, defaults.CacheRoot, defaults.Token, defaults.Offline));
        Assert.Equal("/x/hf/hub", From(("HF_HOME", "/x/hf")).CacheRoot);
        Assert.Equal("/xdg/huggingface/hub", From(("XDG_CACHE_HOME", "/xdg")).CacheRoot);
        Assert.Equal("/c", From(("HF_HOME", "/x/hf"), ("HF_HUB_CACHE", "/c")).CacheRoot);
        Assert.Equal("http://127.0.0.1:1", From(("HF_ENDPOINT", "http://127.0.0.1:1/")).Endpoint);
        Assert.Equal("hf_abc", From(("HF_TOKEN", "hf_abc")).Token);
        Assert.True(From(("HF_HUB_OFFLINE", "1")).Offline);
        Assert.True(From(("HF_HUB_OFFLINE", "true")).Offline);
        Assert.False(From(("HF_HUB_OFFLINE", "0")).Offline);
        Assert.Contains("HF_ENDPOINT", Assert.Throws<NativeLayersException>(() => From(("HF_ENDPOINT", "huggingface.co"))).Message);

        string home = _cache.File("hf-home");
        Directory.CreateDirectory(home);
        File.WriteAllText(Path.Combine(home, "token"), "hf_from_login\n");
        Assert.Equal("hf_from_login", From(("HF_HOME", home)).Token);
        Assert.Equal("hf_env", From(("HF_HOME", home), ("HF_TOKEN", "hf_env")).Token);
    }

    private sealed class SynchronousReport<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
