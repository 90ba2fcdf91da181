using NativeLayers.Backends;
using NativeLayers.Backends.Gpu;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Cli;

/// <summary>The CLI's composition root for backends: turns --device and --threads into the backend a model computes on.</summary>
public static class BackendChoice
{
    /// <summary>--device text to a concrete kind (auto → cuda when a GPU is present, else cpu).</summary>
    public static DeviceKind Resolve(string device) => GpuBackend.Resolve(DeviceKinds.Parse(device));

    public static RuntimeOptions Options(DeviceKind device, int threads)
    {
        return device == DeviceKind.Cpu
            ? new RuntimeOptions { Threads = threads }
            : new RuntimeOptions { Threads = threads, Backend = () => new GpuBackend(device) };
    }
}
