using NativeLayers.Gpu;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Device;

/// <summary>Where a model runs: the SIMD CPU backend, a CUDA GPU, or ILGPU's CPU accelerator (the GPU kernels, emulated; for tests).</summary>
public enum ComputeDevice { Auto, Cpu, Cuda, IlgpuCpu }

public static class ComputeDevices
{
    /// <summary>auto picks CUDA when a GPU is present, the CPU backend otherwise.</summary>
    public static ComputeDevice Resolve(ComputeDevice device) =>
        device == ComputeDevice.Auto ? (GpuDevice.CudaAvailable ? ComputeDevice.Cuda : ComputeDevice.Cpu) : device;

    public static ComputeDevice Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => ComputeDevice.Auto,
        "cpu" => ComputeDevice.Cpu,
        "cuda" or "gpu" => ComputeDevice.Cuda,
        "ilgpu-cpu" => ComputeDevice.IlgpuCpu,
        _ => throw new NativeLayersException($"device '{text}' is not one of auto, cuda, cpu, ilgpu-cpu."),
    };

    public static string Name(ComputeDevice device) => device switch
    {
        ComputeDevice.Cuda => "cuda",
        ComputeDevice.IlgpuCpu => "ilgpu-cpu",
        ComputeDevice.Cpu => "cpu",
        _ => "auto",
    };
}
