namespace NativeLayers.Loading.Hub;

/// <summary>How far the download of one file of a snapshot has come (bytes already on disk from an earlier try included).</summary>
public readonly record struct HubDownloadProgress(string File, long BytesDone, long TotalBytes);
