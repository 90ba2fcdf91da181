using System.Runtime.CompilerServices;

namespace NativeLayers.Backends;

/// <summary>
/// Backend buffers built once from host values and kept while their owner lives and keeps its version (folded
/// steering biases, keyed by the plan that made them and the plan's edit count). The owner is held weakly, so a
/// dropped plan takes its buffers with it; a new version disposes the buffers of the old one.
/// </summary>
public sealed class ConstantCache : IDisposable
{
    private sealed class Entries
    {
        public int Version = -1;
        public readonly Dictionary<object, BackendBuffer> Buffers = new();
    }

    private readonly ConditionalWeakTable<object, Entries> _byOwner = new();

    public BackendBuffer Get(object owner, int version, object key, Func<BackendBuffer> build)
    {
        var entries = _byOwner.GetOrCreateValue(owner);
        lock (entries)
        {
            if (entries.Version != version)
            {
                foreach (var stale in entries.Buffers.Values) stale.Dispose();
                entries.Buffers.Clear();
                entries.Version = version;
            }
            if (!entries.Buffers.TryGetValue(key, out var buffer)) entries.Buffers[key] = buffer = build();
            return buffer;
        }
    }

    public void Dispose()
    {
        foreach (var (_, entries) in _byOwner)
            lock (entries)
            {
                foreach (var buffer in entries.Buffers.Values) buffer.Dispose();
                entries.Buffers.Clear();
            }
    }
}
