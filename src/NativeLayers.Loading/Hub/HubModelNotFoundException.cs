namespace NativeLayers.Loading.Hub;

/// <summary>
/// The hub has no such repository (or hides a private one), or it is offline and the cache lacks the model; a caller
/// that also tried a local folder of that name can say so.
/// </summary>
public sealed class HubModelNotFoundException(string message) : NativeLayersException(message);
