using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace NativeLayers.TestSupport;

/// <summary>
/// A Hugging Face Hub on 127.0.0.1 for tests, answering as the public hub does: the revision API (sha, siblings),
/// resolve with ETag and X-Repo-Commit, a 302 for LFS files to a separate "CDN" listener (or a relative /cdn/ path)
/// with X-Linked-Etag (the SHA-256) and X-Linked-Size, Range requests there, and optionally a required token. It
/// records every request and can break, corrupt or refuse them. Compiled into the test projects that need it.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    public sealed record Request(string Method, string Path, string? Range, string? Authorization, bool ToCdn);

    public sealed record FakeFile(byte[] Content, bool Lfs)
    {
        public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Content));

        /// <summary>git's blob hash, the ETag the hub gives a file stored in git.</summary>
        public string GitHash => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {Content.Length}\0"), .. Content]));
    }

    private sealed class Repo
    {
        public Dictionary<string, string> Refs { get; } = new();
        public Dictionary<string, Dictionary<string, FakeFile>> Commits { get; } = new();
        public HashSet<string> ListedOnly { get; } = new();
    }

    private readonly Dictionary<string, Repo> _repos = new();
    private readonly HttpListener _hub;
    private readonly HttpListener _cdn;
    private int _drops;
    private long _dropAfter;
    private string? _dropSha256;

    public FakeHub()
    {
        _hub = Start(out int hubPort);
        _cdn = Start(out int cdnPort);
        Endpoint = $"http://127.0.0.1:{hubPort}";
        CdnAddress = $"http://127.0.0.1:{cdnPort}";
        _ = Serve(_hub, toCdn: false);
        _ = Serve(_cdn, toCdn: true);
    }

    public string Endpoint { get; }
    public string CdnAddress { get; }
    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>When set, the hub (not the CDN) answers 401 to requests without "Bearer TOKEN".</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Redirect LFS files to /cdn/SHA on the hub itself (a relative Location) instead of the CDN listener.</summary>
    public bool RelativeCdnRedirect { get; set; }

    /// <summary>The CDN serves LFS content with one byte changed.</summary>
    public bool CorruptLfs { get; set; }

    /// <summary>A status to answer a request with instead of serving it (null: serve it).</summary>
    public Func<Request, int?>? Refuse { get; set; }

    /// <summary>The next <paramref name="times"/> CDN downloads of <paramref name="file"/> send <paramref name="afterBytes"/> bytes, then drop the connection.</summary>
    public void DropDownloads(FakeFile file, long afterBytes, int times = 1)
    {
        _dropSha256 = file.Sha256;
        _dropAfter = afterBytes;
        _drops = times;
    }

    /// <summary>Adds a commit to a repository, under <paramref name="revision"/> when given; files ending in .safetensors, .bin or .model are LFS files.</summary>
    public string AddCommit(string repoId, string? revision, IReadOnlyDictionary<string, byte[]> files, params string[] listedButMissing)
    {
        if (!_repos.TryGetValue(repoId, out var repo)) _repos[repoId] = repo = new Repo();
        string commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{repoId}/{repo.Commits.Count}/{string.Join(",", files.Keys)}")));
        repo.Commits[commit] = files.ToDictionary(f => f.Key, f => new FakeFile(f.Value, IsLfs(f.Key)));
        foreach (var name in listedButMissing) repo.ListedOnly.Add(commit + "/" + name);
        if (revision != null) repo.Refs[revision] = commit;
        return commit;
    }

    public FakeFile File(string repoId, string commit, string name) => _repos[repoId].Commits[commit][name];

    /// <summary>The files of a folder on disk (its top level), as a commit's content.</summary>
    public static Dictionary<string, byte[]> FilesOf(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), f => System.IO.File.ReadAllBytes(f));

    public IEnumerable<Request> HubRequests => Requests.Where(r => !r.ToCdn && !r.Path.StartsWith("/cdn/"));
    public IEnumerable<Request> CdnRequests => Requests.Where(r => r.ToCdn || r.Path.StartsWith("/cdn/"));

    private static bool IsLfs(string name) => name.EndsWith(".safetensors") || name.EndsWith(".bin") || name.EndsWith(".model");

    private static HttpListener Start(out int port)
    {
        for (int attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try { listener.Start(); return listener; }
            catch (HttpListenerException) when (attempt < 10) { listener.Close(); }
        }
    }

    private async Task Serve(HttpListener listener, bool toCdn)
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() =>
            {
                try { Handle(context, toCdn); }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { }
            });
        }
    }

    private void Handle(HttpListenerContext context, bool toCdn)
    {
        var http = context.Request;
        var response = context.Response;
        string path = http.Url!.AbsolutePath;
        var request = new Request(http.HttpMethod, Uri.UnescapeDataString(path), http.Headers["Range"], http.Headers["Authorization"], toCdn);
        Requests.Enqueue(request);
        if (Refuse?.Invoke(request) is int status) { Reply(response, status); return; }
        if (path.StartsWith("/cdn/")) { ServeCdn(context, path["/cdn/".Length..]); return; }
        if (toCdn) { Reply(response, 404); return; }
        if (RequiredToken != null && request.Authorization != $"Bearer {RequiredToken}") { Reply(response, 401, "GatedRepo"); return; }
        if (path.StartsWith("/api/models/")) { ServeRevision(response, request.Path["/api/models/".Length..]); return; }
        int resolve = request.Path.IndexOf("/resolve/", StringComparison.Ordinal);
        if (resolve > 0) { ServeResolve(context, request.Path[1..resolve], request.Path[(resolve + "/resolve/".Length)..]); return; }
        Reply(response, 404);
    }

    private bool TryFind(HttpListenerResponse response, string repoId, string revision, out Repo repo, out string commit)
    {
        commit = "";
        if (!_repos.TryGetValue(repoId, out repo!)) { Reply(response, 404, "RepoNotFound"); return false; }
        if (repo.Refs.TryGetValue(revision, out var named)) commit = named;
        else if (repo.Commits.ContainsKey(revision)) commit = revision;
        else { Reply(response, 404, "RevisionNotFound"); return false; }
        return true;
    }

    private void ServeRevision(HttpListenerResponse response, string rest)
    {
        int split = rest.LastIndexOf("/revision/", StringComparison.Ordinal);
        if (split < 0 || !TryFind(response, rest[..split], rest[(split + "/revision/".Length)..], out var repo, out var commit)) return;
        var names = repo.Commits[commit].Keys.Concat(repo.ListedOnly.Where(k => k.StartsWith(commit + "/")).Select(k => k[(commit.Length + 1)..]));
        var body = JsonSerializer.SerializeToUtf8Bytes(new { id = rest[..split], sha = commit, siblings = names.Select(n => new { rfilename = n }) });
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
        response.Close();
    }

    private void ServeResolve(HttpListenerContext context, string repoId, string rest)
    {
        var response = context.Response;
        int slash = rest.IndexOf('/');
        if (!TryFind(response, repoId, rest[..slash], out var repo, out var commit)) return;
        if (!repo.Commits[commit].TryGetValue(rest[(slash + 1)..], out var file)) { Reply(response, 404, "EntryNotFound"); return; }
        response.Headers["X-Repo-Commit"] = commit;
        if (file.Lfs)
        {
            response.Headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
            response.Headers["X-Linked-Size"] = file.Content.Length.ToString();
            response.Headers["ETag"] = $"\"{file.GitHash}\""; // the pointer's hash, which a client must not take for the content's
            response.RedirectLocation = RelativeCdnRedirect ? $"/cdn/{file.Sha256}" : $"{CdnAddress}/cdn/{file.Sha256}";
            Reply(response, 302);
            return;
        }
        response.Headers["ETag"] = $"\"{file.GitHash}\"";
        SendContent(context, file.Content, allowDrop: false);
    }

    private void ServeCdn(HttpListenerContext context, string sha256)
    {
        var file = _repos.Values.SelectMany(r => r.Commits.Values).SelectMany(c => c.Values).FirstOrDefault(f => f.Lfs && f.Sha256 == sha256);
        if (file == null) { Reply(context.Response, 404); return; }
        var content = file.Content.ToArray();
        if (CorruptLfs) content[content.Length / 2] ^= 0xFF;
        SendContent(context, content, allowDrop: sha256 == _dropSha256);
    }

    private void SendContent(HttpListenerContext context, byte[] content, bool allowDrop)
    {
        var response = context.Response;
        long from = 0;
        if (context.Request.Headers["Range"] is { } range && range.StartsWith("bytes=") && range.EndsWith('-') && long.TryParse(range[6..^1], out from))
        {
            if (from >= content.Length) { response.Headers["Content-Range"] = $"bytes */{content.Length}"; Reply(response, 416); return; }
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {from}-{content.Length - 1}/{content.Length}";
        }
        response.ContentLength64 = content.Length - from;
        if (context.Request.HttpMethod == "HEAD") { response.Close(); return; }
        if (allowDrop && Interlocked.Decrement(ref _drops) >= 0)
        {
            response.OutputStream.Write(content, (int)from, (int)Math.Min(_dropAfter, content.Length - from));
            response.OutputStream.Flush();
            response.Abort();
            return;
        }
        response.OutputStream.Write(content, (int)from, (int)(content.Length - from));
        response.Close();
    }

    private static void Reply(HttpListenerResponse response, int status, string? errorCode = null)
    {
        response.StatusCode = status;
        if (errorCode != null) response.Headers["X-Error-Code"] = errorCode;
        response.ContentLength64 = 0;
        response.Close();
    }

    public void Dispose()
    {
        _hub.Close();
        _cdn.Close();
    }
}
