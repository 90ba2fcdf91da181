using NativeLayers.Backends;
using NativeLayers.Cli;
using NativeLayers.Runtime;

namespace NativeLayers.Tests;

/// <summary>
/// The backends every model test runs on: the SIMD CPU backend and the GPU kernels on ILGPU's CPU accelerator,
/// both through the one forward-pass driver.
/// </summary>
public static class TestDevices
{
    public const string Cpu = "cpu", IlgpuCpu = "ilgpu-cpu";

    public static readonly string[] All = [Cpu, IlgpuCpu];

    public static Transformer Load(string directory, string device) =>
        Transformer.Load(directory, BackendChoice.Options(DeviceKinds.Parse(device), threads: 0));

    public static TheoryData<string> Devices() => new(All);

    /// <summary>Every case once per device (the device last).</summary>
    public static TheoryData<string, string> Each(params string[] cases)
    {
        var data = new TheoryData<string, string>();
        foreach (var c in cases)
            foreach (var device in All) data.Add(c, device);
        return data;
    }
}
