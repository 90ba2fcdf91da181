namespace NativeLayers.Backends;

/// <summary>Where a model computes: the one device vocabulary of the CLI, the runtime and the backends.</summary>
public enum DeviceKind
{
    /// <summary>CUDA when a GPU is present, the CPU backend otherwise (resolved before a backend is made).</summary>
    Auto,
    /// <summary>The SIMD CPU backend.</summary>
    Cpu,
    /// <summary>The first CUDA GPU, through the ILGPU kernels.</summary>
    Cuda,
    /// <summary>The GPU kernels on ILGPU's CPU emulator (warp 4, groups ≤ 16 threads): a correctness check only, very slow.</summary>
    IlgpuCpu,
    /// <summary>ILGPU's CPU emulator shaped like a GPU warp (warp 32, groups ≤ 128 threads): runs the tensor-core kernel's emulated path.</summary>
    IlgpuCpuWarp32,
}

public static class DeviceKinds
{
    public static DeviceKind Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => DeviceKind.Auto,
        "cpu" => DeviceKind.Cpu,
        "cuda" or "gpu" => DeviceKind.Cuda,
        "ilgpu-cpu" => DeviceKind.IlgpuCpu,
        _ => throw new Loading.NativeLayersException($"device '{text}' is not one of auto, cuda, cpu, ilgpu-cpu."),
    };

    public static string Name(DeviceKind device) => device switch
    {
        DeviceKind.Cuda => "cuda",
        DeviceKind.IlgpuCpu => "ilgpu-cpu",
        DeviceKind.IlgpuCpuWarp32 => "ilgpu-cpu-warp32",
        DeviceKind.Cpu => "cpu",
        _ => "auto",
    };
}
