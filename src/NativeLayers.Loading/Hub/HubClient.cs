using System.Text.Json;

namespace NativeLayers.Loading.Hub;

/// <summary>
/// Turns a model on the Hugging Face Hub into a folder <see cref="ModelFolder.Open"/> reads: the snapshot folder of its
/// commit in huggingface_hub's cache, with the files the engine needs (<see cref="NeededFiles"/>) downloaded into it.
/// A snapshot the cache already holds, from nl or from Python, is used as it is, without asking the hub.
/// </summary>
public sealed class HubClient(HubSettings settings) : IDisposable
{
    private readonly Lazy<HubConnection> _connection = new(() => new HubConnection(settings));

    private HubConnection Connection => _connection.Value;

    /// <summary>The cached snapshot folder of <paramref name="model"/> when it holds a model that can be loaded, else null; never asks the hub.</summary>
    public string? FindInCache(HubModelReference model)
    {
        var cache = new HubRepoCache(settings.CacheRoot, model.RepoId);
        string? commit = model.RevisionIsCommit ? model.Revision : cache.ReadRef(model.Revision);
        return commit != null && NeededFiles.MissingFrom(cache.Snapshot(commit)).Count == 0 ? cache.Snapshot(commit) : null;
    }

    /// <summary>
    /// The snapshot folder of <paramref name="model"/>, from the cache, or else resolved on the hub and completed with
    /// the files it lacks (<paramref name="progress"/> reports each file's bytes as they arrive).
    /// </summary>
    public async Task<string> GetSnapshotAsync(HubModelReference model, IProgress<HubDownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        if (FindInCache(model) is { } cached) return cached;
        var cache = new HubRepoCache(settings.CacheRoot, model.RepoId);
        if (settings.Offline) throw NotCached(model, cache);

        var (commit, siblings) = await ResolveAsync(model, cancel);
        if (commit != model.Revision) cache.WriteRef(model.Revision, commit);
        var files = NeededFiles.Select(model, siblings);
        foreach (string file in files) await FetchAsync(model, cache, commit, file, progress, cancel);
        if (files.Contains(WeightStore.IndexFileName))
            foreach (string shard in NeededFiles.Shards(model, cache.SnapshotFile(commit, WeightStore.IndexFileName), siblings))
                await FetchAsync(model, cache, commit, shard, progress, cancel);
        return cache.Snapshot(commit);
    }

    /// <summary>The commit a revision names now, and the files of the repository at that commit.</summary>
    private async Task<(string Commit, List<string> Files)> ResolveAsync(HubModelReference model, CancellationToken cancel)
    {
        var subject = new HubRequestSubject(model);
        var uri = Connection.Address($"api/models/{model.RepoId}/revision/{Uri.EscapeDataString(model.Revision)}");
        using var doc = await Connection.GetJsonAsync(uri, subject, cancel);
        var root = doc.RootElement;
        string? commit = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString() : null;
        if (commit == null || !HubModelReference.CommitHash().IsMatch(commit))
            throw new NativeLayersException($"the hub's answer about {subject} ({uri}) has no commit hash ('sha'); is HF_ENDPOINT ({settings.Endpoint}) a Hugging Face hub?");
        var files = new List<string>();
        if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            foreach (var sibling in siblings.EnumerateArray())
                if (sibling.ValueKind == JsonValueKind.Object && sibling.TryGetProperty("rfilename", out var name) && name.GetString() is { } file)
                    files.Add(file);
        return (commit, files);
    }

    private async Task FetchAsync(HubModelReference model, HubRepoCache cache, string commit, string file, IProgress<HubDownloadProgress>? progress, CancellationToken cancel)
    {
        string pointer = cache.SnapshotFile(commit, file);
        if (File.Exists(pointer)) return;
        var subject = new HubRequestSubject(model, file);
        var remote = await DescribeAsync(model, commit, file, subject, cancel);
        try
        {
            bool newBlob = false;
            if (!File.Exists(cache.Blob(remote.Etag)))
            {
                using var blobLock = await FileLock.AcquireAsync(cache.BlobLock(remote.Etag), cancel);
                if (!File.Exists(cache.Blob(remote.Etag))) // another process may have finished it while this one waited
                {
                    await new BlobDownload(Connection, cache, subject, remote).RunAsync(progress, cancel);
                    newBlob = true;
                }
            }
            if (!newBlob) progress?.Report(new HubDownloadProgress(file, remote.Size, remote.Size));
            cache.Link(commit, file, remote.Etag, newBlob);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CacheWriteErrors.Describe(cache.CacheRoot, pointer, subject.ToString(), e);
        }
    }

    /// <summary>
    /// The hub's HEAD answer for a file at a commit. It is not followed past a redirect to the file storage: the hub's
    /// own answer is the one with an LFS file's SHA-256 (X-Linked-Etag) and size (X-Linked-Size). Relative redirects
    /// without them (a renamed repository) are followed, as huggingface_hub follows them.
    /// </summary>
    private async Task<RemoteFile> DescribeAsync(HubModelReference model, string commit, string file, HubRequestSubject subject, CancellationToken cancel)
    {
        var uri = Connection.Address($"{model.RepoId}/resolve/{commit}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");
        using var response = await Connection.SendAsync(HttpMethod.Head, uri, subject,
            followRedirect: (r, location) => !location.IsAbsoluteUri && HubConnection.Header(r, "X-Linked-Etag") == null && HubConnection.Header(r, "X-Repo-Commit") == null,
            rangeFrom: null, cancel);
        string? linkedEtag = HubConnection.Header(response, "X-Linked-Etag");
        string? etag = Unquote(linkedEtag ?? HubConnection.Header(response, "ETag"));
        long? size = long.TryParse(HubConnection.Header(response, "X-Linked-Size"), out long linkedSize) ? linkedSize : response.Content.Headers.ContentLength;
        bool isLfs = linkedEtag != null;
        if (etag == null || !etag.All(char.IsAsciiLetterOrDigit) || (isLfs && !(etag.Length == 64 && etag.All(char.IsAsciiHexDigit))))
            throw new NativeLayersException($"the hub's answer for {subject} ({uri}) has no usable ETag ('{etag}'); is HF_ENDPOINT ({settings.Endpoint}) a Hugging Face hub?");
        if (size is not >= 0)
            throw new NativeLayersException($"the hub's answer for {subject} ({uri}) does not give the file's size (X-Linked-Size or Content-Length).");
        var requested = response.RequestMessage?.RequestUri ?? uri;
        var source = response.Headers.Location is { } location && (int)response.StatusCode is >= 300 and < 400 ? new Uri(requested, location) : requested;
        return new RemoteFile(file, source, etag.ToLowerInvariant(), size.Value, isLfs);
    }

    /// <summary>An ETag without its weak marker and quotes.</summary>
    private static string? Unquote(string? etag) => etag is null ? null : (etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag).Trim('"');

    private static HubModelNotFoundException NotCached(HubModelReference model, HubRepoCache cache)
    {
        string? commit = model.RevisionIsCommit ? model.Revision : cache.ReadRef(model.Revision);
        string lacking = commit == null ? $"there is no {cache.RefFile(model.Revision)} (the commit of '{model.Revision}')"
            : !Directory.Exists(cache.Snapshot(commit)) ? $"there is no snapshot folder {cache.Snapshot(commit)}"
            : $"its snapshot {cache.Snapshot(commit)} lacks {string.Join(", ", NeededFiles.MissingFrom(cache.Snapshot(commit)))}";
        string revision = model.Revision == HubModelReference.DefaultRevision ? "" : $" --revision {model.Revision}";
        return new HubModelNotFoundException(
            $"HF_HUB_OFFLINE is set and the hub cache ({cache.CacheRoot}) does not hold {model}: {lacking}. " +
            $"Unset HF_HUB_OFFLINE to download it, or download it with `huggingface-cli download {model.RepoId}{revision}`.");
    }

    public void Dispose()
    {
        if (_connection.IsValueCreated) _connection.Value.Dispose();
    }
}
