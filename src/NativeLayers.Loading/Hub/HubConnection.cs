using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace NativeLayers.Loading.Hub;

/// <summary>What a request asks for, so that an error names the repository, revision or file the hub did not give.</summary>
internal sealed record HubRequestSubject(HubModelReference Model, string? File = null)
{
    public override string ToString() => File == null ? $"the repository {Model}" : $"{File} of {Model}";
}

/// <summary>
/// HTTP to the hub and to the storage it redirects downloads to: the token only to the hub's own address, retries of
/// 5xx, 429 and failed connections, redirects followed one hop at a time, and every failure as a
/// <see cref="NativeLayersException"/> that says what was asked and what to do.
/// </summary>
internal sealed class HubConnection : IDisposable
{
    private const int MaxRedirects = 10;

    private readonly HubSettings _settings;
    private readonly Uri _endpoint;
    private readonly HttpClient _http;

    public HubConnection(HubSettings settings)
    {
        _settings = settings;
        _endpoint = new Uri(settings.Endpoint.TrimEnd('/') + "/");
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("nativelayers", typeof(HubConnection).Assembly.GetName().Version?.ToString(3)));
    }

    public HubSettings Settings => _settings;

    /// <summary>An address on the hub, from a path relative to its endpoint (already escaped).</summary>
    public Uri Address(string relative) => new(_endpoint, relative);

    public async Task<JsonDocument> GetJsonAsync(Uri uri, HubRequestSubject subject, CancellationToken cancel)
    {
        using var response = await SendAsync(HttpMethod.Get, uri, subject, followRedirect: (_, _) => true, rangeFrom: null, cancel);
        byte[] body;
        try { body = await response.Content.ReadAsByteArrayAsync(cancel); }
        catch (Exception e) when (e is HttpRequestException or IOException) { throw Unreachable(uri, subject, e); }
        try { return JsonDocument.Parse(body); }
        catch (JsonException e) { throw new NativeLayersException($"the hub's answer about {subject} ({uri}) is not JSON ({e.Message}); is HF_ENDPOINT ({_settings.Endpoint}) a Hugging Face hub?"); }
    }

    /// <summary>
    /// Sends a request and returns its response, body unread: a success, a 416 to a range request, or a redirect that
    /// <paramref name="followRedirect"/> declined (given the response and its Location). Redirects it accepts are sent
    /// again to their target.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, HubRequestSubject subject,
        Func<HttpResponseMessage, Uri, bool> followRedirect, long? rangeFrom, CancellationToken cancel)
    {
        for (int hop = 0; ; hop++)
        {
            var response = await SendWithRetriesAsync(method, uri, subject, rangeFrom, cancel);
            if (IsRedirect(response.StatusCode) && response.Headers.Location is { } location)
            {
                if (!followRedirect(response, location)) return response;
                response.Dispose();
                if (hop == MaxRedirects) throw new NativeLayersException($"the hub redirected the request for {subject} more than {MaxRedirects} times ({uri}).");
                uri = new Uri(uri, location);
                continue;
            }
            if (response.IsSuccessStatusCode || (rangeFrom > 0 && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)) return response;
            using (response) throw Refused(response, uri, subject);
        }
    }

    private async Task<HttpResponseMessage> SendWithRetriesAsync(HttpMethod method, Uri uri, HubRequestSubject subject, long? rangeFrom, CancellationToken cancel)
    {
        for (int attempt = 0; ; attempt++)
        {
            bool lastTry = attempt >= _settings.RetryDelays.Count;
            var request = new HttpRequestMessage(method, uri);
            if (_settings.Token is { } token && SameOrigin(uri, _endpoint)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (rangeFrom is > 0) request.Headers.Range = new RangeHeaderValue(rangeFrom, null);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(_settings.StallTimeout);
            try
            {
                var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                if (lastTry || !IsTransient(response.StatusCode)) return response;
                response.Dispose();
            }
            catch (HttpRequestException e) when (lastTry) { throw Unreachable(uri, subject, e); }
            catch (OperationCanceledException e) when (!cancel.IsCancellationRequested && lastTry)
            {
                throw new NativeLayersException($"{uri.Host} did not answer within {_settings.StallTimeout.TotalSeconds:0} s about {subject}. {OfflineHint}", e);
            }
            catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !cancel.IsCancellationRequested)) { }
            await Task.Delay(_settings.RetryDelays[attempt], cancel);
        }
    }

    private NativeLayersException Refused(HttpResponseMessage response, Uri uri, HubRequestSubject subject)
    {
        int status = (int)response.StatusCode;
        string code = Header(response, "X-Error-Code") ?? "";
        string detail = Header(response, "X-Error-Message") is { } message ? $" The hub says: {message}" : "";
        string page = $"{_settings.Endpoint}/{subject.Model.RepoId}";
        string tries = _settings.RetryDelays.Count > 0 && IsTransient(response.StatusCode) ? $" (after {_settings.RetryDelays.Count + 1} tries)" : "";
        if (!SameOrigin(uri, _endpoint))
            return new NativeLayersException($"the file storage at {uri.Host}, where the hub sent the download of {subject}, answered {status} {response.ReasonPhrase}{tries}. Run the command again.");
        bool repoMissing = code == "RepoNotFound" || (status == 404 && subject.File == null && code != "RevisionNotFound");
        return status switch
        {
            401 or 404 when repoMissing => new HubModelNotFoundException(
                $"the Hugging Face Hub ({_settings.Endpoint}) has no repository {subject.Model.RepoId}" +
                (subject.Model.Revision != HubModelReference.DefaultRevision && code == "" ? $" (or it has no revision '{subject.Model.Revision}')" : "") +
                $" ({status}); if it is private or gated, {TokenAdvice(page)}.{detail}"),
            404 when code == "RevisionNotFound" => new NativeLayersException(
                $"{subject.Model.RepoId} has no revision '{subject.Model.Revision}' (a branch, tag or commit) on {_settings.Endpoint} (404).{detail}"),
            404 => new NativeLayersException($"{subject.File} not found in {subject.Model} on {_settings.Endpoint} (404), though the repository lists it.{detail}"),
            401 when _settings.Token != null => new NativeLayersException(
                $"the hub refused the token in HF_TOKEN for {subject} (401): check that it is valid, and accept the licence at {page} with its account.{detail}"),
            401 or 403 => new NativeLayersException(
                $"access to {subject.Model.RepoId} was refused ({status}): it is gated or private; {TokenAdvice(page)}.{detail}"),
            429 => new NativeLayersException($"the hub is rate-limiting requests (429){tries}; wait a few minutes and run the command again.{detail}"),
            >= 500 => new NativeLayersException($"the hub at {_settings.Endpoint} had a server error ({status} {response.ReasonPhrase}) for {subject}{tries}; try again later.{detail}"),
            _ => new NativeLayersException($"the hub answered {status} {response.ReasonPhrase} for {subject} ({uri}).{detail}"),
        };
    }

    private string TokenAdvice(string page) => _settings.Token == null
        ? $"set HF_TOKEN to an access token (or run huggingface-cli login) and accept the licence at {page}"
        : $"accept the licence at {page} with the account of HF_TOKEN, or use a token of an account that has access";

    private NativeLayersException Unreachable(Uri uri, HubRequestSubject subject, Exception e) =>
        new($"cannot reach {uri.Host} for {subject}: {e.Message.TrimEnd('.')}. Check the network connection (and HTTPS_PROXY). {OfflineHint}", e);

    private string OfflineHint => $"Set HF_HUB_OFFLINE=1 to use only the models already in the cache ({_settings.CacheRoot}).";

    private static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    private static bool IsTransient(HttpStatusCode status) => (int)status is 429 or >= 500;

    private static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? values.FirstOrDefault() : null;

    public void Dispose() => _http.Dispose();
}
