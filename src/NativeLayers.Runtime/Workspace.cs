namespace NativeLayers.Runtime;

/// <summary>Scratch buffers of the forward pass, kept between calls and grown when a bigger batch arrives.</summary>
internal sealed class Workspace
{
    private readonly Dictionary<string, PinnedBuffer> _buffers = new();

    public PinnedBuffer Get(string name, int length)
    {
        if (!_buffers.TryGetValue(name, out var buffer) || buffer.Length < length)
            _buffers[name] = buffer = new PinnedBuffer(Math.Max(length, 1));
        return buffer;
    }
}
