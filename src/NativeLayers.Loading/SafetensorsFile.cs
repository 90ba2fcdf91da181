using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace NativeLayers.Loading;

/// <summary>
/// A memory-mapped safetensors file. Tensor data is never copied: <see cref="Pointer"/> and <see cref="Bytes"/>
/// point into the mapping, which lives until the file is disposed.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, TensorInfo> _byName;
    private bool _disposed;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensors in data order.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }
    public long DataLength { get; }

    private SafetensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr,
        long dataStart, long dataLength, List<TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; _map = map; _view = view; _base = basePtr; _dataStart = dataStart; DataLength = dataLength;
        Tensors = tensors; Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name);
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new ModelFileException(path, "file not found.");
        long fileLength;
        long headerLength;
        List<TensorInfo> tensors;
        Dictionary<string, string> metadata;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            fileLength = stream.Length;
            headerLength = SafetensorsHeader.ReadHeaderLength(path, stream, fileLength);
            var header = new byte[headerLength];
            stream.ReadExactly(header);
            (tensors, metadata) = SafetensorsHeader.Parse(path, header, fileLength - 8 - headerLength);
        }
        catch (IOException e)
        {
            throw new ModelFileException(path, $"cannot read: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ModelFileException(path, $"cannot read: {e.Message}", e);
        }

        long dataStart = 8 + headerLength;
        long dataLength = fileLength - dataStart;
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* basePtr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        basePtr += view.PointerOffset;
        return new SafetensorsFile(path, map, view, basePtr, dataStart, dataLength, tensors, metadata);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public bool TryGet(string name, out TensorInfo info) => _byName.TryGetValue(name, out info!);

    public TensorInfo Get(string name) => _byName.TryGetValue(name, out var info)
        ? info
        : throw new ModelFileException(Path, $"tensor '{name}' is missing.");

    /// <summary>Address of the tensor's first byte; valid until this file is disposed.</summary>
    public byte* Pointer(TensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _base + _dataStart + tensor.DataOffset;
    }

    public ReadOnlySpan<byte> Bytes(TensorInfo tensor)
    {
        if (tensor.ByteLength > int.MaxValue)
            throw new ModelFileException(Path, $"tensor '{tensor.Name}' is {tensor.ByteLength} bytes, too large for a single span; read it through Pointer().");
        return new ReadOnlySpan<byte>(Pointer(tensor), (int)tensor.ByteLength);
    }

    /// <summary>Reads any floating-point tensor as a new float32 array (for small tensors: goldens, vectors, norms).</summary>
    public float[] ReadFloat32(string name)
    {
        var info = Get(name);
        return TensorConversion.ToFloat32(Path, info, Bytes(info));
    }

    /// <summary>Reads an integer tensor (I64, I32, I16, I8, U8, BOOL) as int64 values.</summary>
    public long[] ReadInt64(string name)
    {
        var info = Get(name);
        return TensorConversion.ToInt64(Path, info, Bytes(info));
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

internal static class TensorConversion
{
    public static float[] ToFloat32(string path, TensorInfo info, ReadOnlySpan<byte> bytes)
    {
        var result = new float[info.ElementCount];
        switch (info.DType)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
                break;
            case DType.F64:
                var d = MemoryMarshal.Cast<byte, double>(bytes);
                for (int i = 0; i < result.Length; i++) result[i] = (float)d[i];
                break;
            case DType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < result.Length; i++) result[i] = (float)h[i];
                break;
            case DType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (int i = 0; i < result.Length; i++) result[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
                break;
            default:
                throw new ModelFileException(path, $"tensor '{info.Name}' is {info.DType}, expected a floating-point dtype (F32, F16, BF16 or F64).");
        }
        return result;
    }

    public static long[] ToInt64(string path, TensorInfo info, ReadOnlySpan<byte> bytes)
    {
        var result = new long[info.ElementCount];
        switch (info.DType)
        {
            case DType.I64: MemoryMarshal.Cast<byte, long>(bytes).CopyTo(result); break;
            case DType.I32: { var s = MemoryMarshal.Cast<byte, int>(bytes); for (int i = 0; i < result.Length; i++) result[i] = s[i]; break; }
            case DType.I16: { var s = MemoryMarshal.Cast<byte, short>(bytes); for (int i = 0; i < result.Length; i++) result[i] = s[i]; break; }
            case DType.I8: { var s = MemoryMarshal.Cast<byte, sbyte>(bytes); for (int i = 0; i < result.Length; i++) result[i] = s[i]; break; }
            case DType.U8 or DType.BOOL: for (int i = 0; i < result.Length; i++) result[i] = bytes[i]; break;
            default:
                throw new ModelFileException(path, $"tensor '{info.Name}' is {info.DType}, expected an integer dtype.");
        }
        return result;
    }
}
