using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace NativeLayers.LlamaPeer;

/// <summary>llama.cpp through LLamaSharp's native API: token ids in an LLamaBatch, llama_decode, the KV cache cleared between sequences.</summary>
public sealed class LlamaCppEngine : IPeerEngine
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();

    public string Name => "llama.cpp";

    public LlamaCppEngine(string ggufPath, int threads, int maxTokens)
    {
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)maxTokens,
            BatchSize = (uint)maxTokens,
            UBatchSize = (uint)maxTokens,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
    }

    /// <summary>Sends llama.cpp's log to stderr, errors only; call before the first model is loaded.</summary>
    public static void QuietNativeLog() => NativeLibraryConfig.All.WithLogCallback((level, message) =>
    {
        if (level == LLamaLogLevel.Error) Console.Error.Write($"llama.cpp: {message}");
    });

    /// <summary>llama.cpp's own report of the CPU features its loaded build uses (AVX512 = 1, …).</summary>
    public static string SystemInfo()
    {
        object info = NativeApi.llama_print_system_info();
        return (info is IntPtr pointer ? System.Runtime.InteropServices.Marshal.PtrToStringAnsi(pointer) : info.ToString())?.Trim() ?? "";
    }

    public void Prefill(int[] tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        Decode(tokens, firstPosition: 0);
    }

    public double DecodeSeconds(int[] prompt, int[] steps)
    {
        _context.NativeHandle.MemoryClear(true);
        Decode(prompt, firstPosition: 0);
        var clock = Stopwatch.StartNew();
        for (int s = 0; s < steps.Length; s++) Decode([steps[s]], prompt.Length + s);
        return clock.Elapsed.TotalSeconds;
    }

    public int[] Greedy(int[] prompt, int steps)
    {
        _context.NativeHandle.MemoryClear(true);
        var output = new int[steps];
        int next = Argmax(Decode(prompt, firstPosition: 0));
        for (int s = 0; s < steps; s++)
        {
            output[s] = next;
            if (s + 1 < steps) next = Argmax(Decode([next], prompt.Length + s));
        }
        return output;
    }

    /// <summary>One llama_decode of consecutive positions of sequence 0, logits for the last token only; returns them.</summary>
    private ReadOnlySpan<float> Decode(int[] tokens, int firstPosition)
    {
        _batch.Clear();
        for (int i = 0; i < tokens.Length; i++) _batch.Add(tokens[i], firstPosition + i, LLamaSeqId.Zero, i == tokens.Length - 1);
        var result = _context.NativeHandle.Decode(_batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode of {tokens.Length} tokens at position {firstPosition} failed: {result}.");
        _context.NativeHandle.Synchronize();
        return _context.NativeHandle.GetLogitsIth(tokens.Length - 1);
    }

    private static int Argmax(ReadOnlySpan<float> logits) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
