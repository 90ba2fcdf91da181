using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace NativeLayers.OnnxPeer;

/// <summary>
/// ONNX Runtime's side: the unmodified ONNX graph on the CPU execution provider (all graph optimisations, one
/// intra-op thread per core), then the sentence-transformers pooling the model folder asks for (masked mean, L2 norm).
/// </summary>
public sealed class OrtEmbedder : IDisposable
{
    private readonly InferenceSession _session;

    public int Width { get; }

    public OrtEmbedder(string onnxPath, int threads)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        _session = new InferenceSession(onnxPath, options);
        Width = (int)_session.OutputMetadata["last_hidden_state"].Dimensions[^1];
    }

    /// <summary>One [sequences, width] array of normalised mean-pooled embeddings; sequences of one length (no padding).</summary>
    public float[] Embed(IReadOnlyList<int[]> sequences)
    {
        int batch = sequences.Count, length = sequences[0].Length;
        var ids = new DenseTensor<long>([batch, length]);
        var mask = new DenseTensor<long>([batch, length]);
        var types = new DenseTensor<long>([batch, length]);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < length; t++)
            {
                ids[b, t] = sequences[b][t];
                mask[b, t] = 1;
            }
        using var outputs = _session.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", ids),
            NamedOnnxValue.CreateFromTensor("attention_mask", mask),
            NamedOnnxValue.CreateFromTensor("token_type_ids", types),
        ], ["last_hidden_state"]);
        var hidden = ((DenseTensor<float>)outputs[0].AsTensor<float>()).Buffer.Span;
        var result = new float[batch * Width];
        for (int b = 0; b < batch; b++)
        {
            var pooled = result.AsSpan(b * Width, Width);
            // Every token is unmasked and the sum is normalised, so dividing by the length first would change nothing.
            for (int t = 0; t < length; t++) TensorPrimitives.Add(pooled, hidden.Slice((b * length + t) * Width, Width), pooled);
            TensorPrimitives.Divide(pooled, Math.Max(TensorPrimitives.Norm<float>(pooled), 1e-12f), pooled);
        }
        return result;
    }

    public void Dispose() => _session.Dispose();
}
