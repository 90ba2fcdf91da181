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

    /// <summary>
    /// Opens and validates a safetensors file (see <see cref="SafetensorsHeader"/>): any problem with the file is a
    /// <see cref="ModelFileException"/> naming it. Only the header is read; the data is mapped, never copied.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        if (Directory.Exists(path))
            throw new ModelFileException(path, "is a folder, not a safetensors file.");
        if (!File.Exists(path))
            throw new ModelFileException(path, "file not found.");
        FileStream? stream = null;
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            long fileLength = stream.Length;
            long headerLength = SafetensorsHeader.ReadHeaderLength(path, stream, fileLength);
            var header = new byte[headerLength];
            stream.ReadExactly(header);
            long dataStart = 8 + headerLength;
            var (tensors, metadata) = SafetensorsHeader.Parse(path, header, fileLength - dataStart);

            // Map the very file whose header was validated (the mapping takes over the stream).
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null;
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            if (view.Capacity < fileLength)
                throw new ModelFileException(path, $"the file shrank to {view.Capacity} bytes while it was being opened.");
            byte* basePtr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
            return new SafetensorsFile(path, map, view, basePtr + view.PointerOffset, dataStart, fileLength - dataStart, tensors, metadata);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Release();
            throw new ModelFileException(path, $"cannot read: {e.Message}", e);
        }
        catch
        {
            Release();
            throw;
        }

        void Release()
        {
            view?.Dispose();
            map?.Dispose();
            stream?.Dispose();
        }
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
        // TensorInfo is a public record: refuse one that was not made from this file's header and points outside it.
        if (tensor.DataOffset < 0 || tensor.ByteLength < 0 || tensor.DataOffset > DataLength - tensor.ByteLength)
            throw new ArgumentException($"tensor '{tensor.Name}' at [{tensor.DataOffset}, +{tensor.ByteLength}) is not inside the "
                + $"{DataLength}-byte data region of {Path}.", nameof(tensor));
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
