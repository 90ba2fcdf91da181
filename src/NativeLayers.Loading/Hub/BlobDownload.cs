using System.Net;
using System.Security.Cryptography;

namespace NativeLayers.Loading.Hub;

/// <summary>What the hub says a file is: where to download it, its blob name (ETag) and size, and for LFS files its SHA-256.</summary>
internal sealed record RemoteFile(string Name, Uri Source, string Etag, long Size, bool IsLfs)
{
    /// <summary>An LFS file's ETag is the SHA-256 of its content; a small file's is its git blob hash.</summary>
    public string? Sha256 => IsLfs ? Etag : null;
}

/// <summary>
/// Downloads one blob into blobs/ETAG.incomplete, resuming what an earlier try left with a Range request, checks its
/// size (and an LFS file's SHA-256), and only then renames it to blobs/ETAG. A download that breaks off keeps the
/// .incomplete file for the next try; one whose content is wrong deletes it.
/// </summary>
internal sealed class BlobDownload(HubConnection connection, HubRepoCache cache, HubRequestSubject subject, RemoteFile file)
{
    private const int BufferSize = 1 << 20;

    private readonly string _incomplete = cache.IncompleteBlob(file.Etag);

    public async Task RunAsync(IProgress<HubDownloadProgress>? progress, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_incomplete)!);
        using var sha = file.Sha256 == null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long have = File.Exists(_incomplete) ? new FileInfo(_incomplete).Length : 0;
        if (have > file.Size) { File.Delete(_incomplete); have = 0; }
        if (have < file.Size) await ReceiveAsync(have, sha, progress, cancel);
        else HashExisting(sha, have);
        progress?.Report(new HubDownloadProgress(file.Name, file.Size, file.Size));
        Verify(sha);
        File.Move(_incomplete, cache.Blob(file.Etag), overwrite: true);
    }

    private async Task ReceiveAsync(long have, IncrementalHash? sha, IProgress<HubDownloadProgress>? progress, CancellationToken cancel)
    {
        using var response = await connection.SendAsync(HttpMethod.Get, file.Source, subject, followRedirect: (_, _) => true, rangeFrom: have, cancel);
        bool resumed = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable || (resumed && response.Content.Headers.ContentRange?.From != have))
        {
            // The server's file is not what the partial one was begun from: start afresh.
            response.Dispose();
            File.Delete(_incomplete);
            await ReceiveAsync(0, sha, progress, cancel);
            return;
        }
        if (resumed) HashExisting(sha, have);
        else have = 0; // a 200 to a range request: the whole file again

        await using var body = await response.Content.ReadAsStreamAsync(cancel);
        await using var output = OpenOutput(append: resumed);
        var buffer = new byte[BufferSize];
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        progress?.Report(new HubDownloadProgress(file.Name, have, file.Size));
        while (true)
        {
            int read;
            stall.CancelAfter(connection.Settings.StallTimeout);
            try { read = await body.ReadAsync(buffer, stall.Token); }
            catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
            {
                Flush(output);
                throw BrokenOff(have, e is OperationCanceledException ? $"nothing arrived for {connection.Settings.StallTimeout.TotalSeconds:0} s" : e.Message, e);
            }
            if (read == 0) break;
            if (have + read > file.Size)
            {
                output.Dispose();
                File.Delete(_incomplete);
                throw new NativeLayersException($"the hub sent more than the {file.Size:N0} bytes it announced for {subject}; the download was deleted, run the command again.");
            }
            Write(output, buffer.AsSpan(0, read));
            sha?.AppendData(buffer, 0, read);
            have += read;
            progress?.Report(new HubDownloadProgress(file.Name, have, file.Size));
        }
        Flush(output);
        if (have < file.Size) throw BrokenOff(have, "the connection closed early", null);
    }

    /// <summary>Hashes the <paramref name="length"/> bytes an earlier try left, which the new ones continue.</summary>
    private void HashExisting(IncrementalHash? sha, long length)
    {
        if (sha == null) return;
        using var stream = new FileStream(_incomplete, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize);
        var buffer = new byte[BufferSize];
        for (long left = length; left > 0;)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (read == 0) break;
            sha.AppendData(buffer, 0, read);
            left -= read;
        }
    }

    private FileStream OpenOutput(bool append)
    {
        try { return new FileStream(_incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw CannotWrite(e); }
    }

    private void Write(FileStream output, ReadOnlySpan<byte> bytes)
    {
        try { output.Write(bytes); }
        catch (IOException e) { throw CannotWrite(e); }
    }

    private void Flush(FileStream output)
    {
        try { output.Flush(); }
        catch (IOException e) { throw CannotWrite(e); }
    }

    private void Verify(IncrementalHash? sha)
    {
        long size = new FileInfo(_incomplete).Length;
        if (size != file.Size) Reject($"has {size:N0} bytes where the hub says {file.Size:N0}");
        if (sha == null) return;
        string actual = Convert.ToHexStringLower(sha.GetHashAndReset());
        if (!string.Equals(actual, file.Sha256, StringComparison.OrdinalIgnoreCase)) Reject($"has the SHA-256 {actual} where the hub says {file.Sha256}");
    }

    private void Reject(string problem)
    {
        File.Delete(_incomplete);
        throw new NativeLayersException($"the download of {subject} {problem}, so it was deleted; run the command again to download it afresh.");
    }

    private NativeLayersException BrokenOff(long have, string why, Exception? inner) => new(
        $"the download of {subject} broke off after {have:N0} of {file.Size:N0} bytes ({why.TrimEnd('.')}). " +
        $"Run the command again to resume from there (the partial file is kept in {Path.GetDirectoryName(_incomplete)}).", inner);

    private ModelFileException CannotWrite(Exception e) => CacheWriteErrors.Describe(cache.CacheRoot, _incomplete, $"{subject} ({file.Size:N0} bytes)", e);
}
