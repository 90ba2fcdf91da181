using NativeLayers.Backends;

namespace NativeLayers.Runtime.ForwardPass;

/// <summary>Named backend buffers of the forward pass, kept between calls and grown when a bigger batch arrives.</summary>
internal sealed class Scratch(IComputeBackend backend) : IDisposable
{
    private readonly Dictionary<string, BackendBuffer> _buffers = new();

    public BackendBuffer Get(string name, long length)
    {
        if (!_buffers.TryGetValue(name, out var buffer) || buffer.Length < length)
        {
            buffer?.Dispose();
            _buffers[name] = buffer = backend.Allocate(Math.Max(length, 1));
        }
        return buffer;
    }

    public void Dispose()
    {
        foreach (var buffer in _buffers.Values) buffer.Dispose();
        _buffers.Clear();
    }
}
