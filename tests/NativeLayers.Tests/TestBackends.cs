using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.Backends.Gpu;

namespace NativeLayers.Tests;

/// <summary>The op providers the op-level tests run on, and host ↔ backend copies for their inputs and outputs.</summary>
internal static class TestBackends
{
    public static IComputeBackend Create(string device) =>
        device == TestDevices.Cpu ? new CpuBackend(threads: 2) : new GpuBackend(DeviceKind.IlgpuCpu);

    public static BackendBuffer Put(IComputeBackend backend, float[] values)
    {
        var buffer = backend.Allocate(values.Length);
        backend.Upload(values, buffer);
        return buffer;
    }

    public static float[] Get(IComputeBackend backend, BufferView view, int length)
    {
        var host = new float[length];
        backend.Download(view, host);
        return host;
    }
}
