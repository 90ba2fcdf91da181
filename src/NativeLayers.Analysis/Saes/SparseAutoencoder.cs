using System.Numerics.Tensors;
using NativeLayers.Backends;
using NativeLayers.Backends.Cpu;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Saes;

/// <summary>How an SAE turns pre-activations into features.</summary>
public enum SaeArchitecture
{
    /// <summary>ReLU(x·W_enc + b_enc) (SAELens "standard").</summary>
    Standard,
    /// <summary>ReLU(pre) where pre &gt; threshold, else 0 (SAELens "jumprelu", Gemma Scope).</summary>
    JumpRelu,
    /// <summary>The k largest pre-activations, through ReLU (SAELens "topk"; sparsify applies the ReLU first, which selects the same).</summary>
    TopK,
    /// <summary>1[x·W_enc + b_gate &gt; 0] · ReLU(x·(W_enc ⊙ exp(r_mag)) + b_mag) (SAELens "gated").</summary>
    Gated,
}

/// <summary>Input normalisation at run time (SAELens normalize_activations; expected_average_only_in is folded into the weights).</summary>
public enum SaeNormalization
{
    None,
    /// <summary>x · √d_in / ‖x‖ in, divided back out of the reconstruction.</summary>
    ConstantNormRescale,
    /// <summary>(x − mean) / (std + 1e-5) in (std with Bessel's correction, as torch), x · std + mean out.</summary>
    LayerNorm,
}

/// <summary>
/// What an SAE file says about itself: where it came from and reads, its architecture and sizes, and how its input is
/// prepared (normalisation, b_dec subtracted or not).
/// </summary>
public sealed record SaeHeader(string Source, string Format, string HookName, SaeArchitecture Architecture, int InputWidth, int Features,
    int K = 0, bool SubtractDecoderBiasFromInput = true, SaeNormalization Normalization = SaeNormalization.None);

/// <summary>
/// A sparse autoencoder on a hook point of a model: encoder rows W_enc[:, f] kept as [d_sae, d_in] for the SIMD matmul,
/// decoder rows W_dec[f] as stored ([d_sae, d_in]: a feature's direction in the stream), biases and the architecture's
/// extras. Encode and decode work on [rows, d_in] host rows; decoding touches only the active features' rows.
/// </summary>
public sealed unsafe class SparseAutoencoder
{
    private readonly PinnedBuffer _encoder, _encoderBias;
    private readonly PinnedBuffer? _magnitudeEncoder, _magnitudeBias;

    public SaeHeader Header { get; }
    public string Source => Header.Source;
    /// <summary>The TransformerLens name of the point it reads (blocks.L.hook_resid_post, ...).</summary>
    public string HookName => Header.HookName;
    public SaeArchitecture Architecture => Header.Architecture;
    public int InputWidth => Header.InputWidth;
    public int Features => Header.Features;
    public int K => Header.K;
    /// <summary>W_dec [d_sae, d_in].</summary>
    public float[] Decoder { get; }
    public float[] DecoderBias { get; }
    /// <summary>JumpReLU thresholds per feature; null otherwise.</summary>
    public float[]? Threshold { get; }

    public string Description => $"{Header.Format} {Architecture.ToString().ToLowerInvariant()} SAE, d_in {InputWidth}, d_sae {Features}" +
        (Architecture == SaeArchitecture.TopK ? $", k {K}" : "") + $", at {HookName}" +
        (Header.Normalization != SaeNormalization.None ? $", input {Header.Normalization}" : "");

    /// <param name="encoder">W_enc as stored, [d_in, d_sae].</param>
    /// <param name="encoderBias">b_enc (gated SAEs: b_gate).</param>
    /// <param name="gate">Gated SAEs: r_mag and b_mag.</param>
    public SparseAutoencoder(SaeHeader header, float[] encoder, float[] encoderBias, float[] decoder, float[] decoderBias,
        float[]? threshold = null, (float[] RMag, float[] BMag)? gate = null)
    {
        Header = header;
        int inputWidth = header.InputWidth, features = header.Features;
        if (header.Architecture == SaeArchitecture.JumpRelu && threshold == null) throw new ArgumentException("a JumpReLU SAE needs thresholds.");
        if (header.Architecture == SaeArchitecture.Gated && gate == null) throw new ArgumentException("a gated SAE needs r_mag and b_mag.");
        if (header.Architecture == SaeArchitecture.TopK && header.K is <= 0 || header.K > features)
            throw new NativeLayersException($"{header.Source}: k = {header.K} must be between 1 and the SAE's {features} features.");
        var transposed = new float[encoder.Length];
        for (int i = 0; i < inputWidth; i++)
            for (int f = 0; f < features; f++) transposed[(long)f * inputWidth + i] = encoder[(long)i * features + f];
        _encoder = new PinnedBuffer(transposed);
        _encoderBias = new PinnedBuffer(encoderBias);
        Decoder = decoder;
        DecoderBias = decoderBias;
        Threshold = threshold;
        if (gate is { } g)
        {
            var magnitude = new float[transposed.Length];
            for (int f = 0; f < features; f++)
                TensorPrimitives.Multiply(transposed.AsSpan(f * inputWidth, inputWidth), MathF.Exp(g.RMag[f]), magnitude.AsSpan(f * inputWidth, inputWidth));
            _magnitudeEncoder = new PinnedBuffer(magnitude);
            _magnitudeBias = new PinnedBuffer(g.BMag);
        }
    }

    /// <summary>The encoded rows: feature activations [rows, d_sae] and, per row, the input scale the decoder must undo.</summary>
    public sealed record Encoding(float[] Features, float[] Scale, float[] Mean);

    /// <summary>Feature activations of [rows, d_in] inputs.</summary>
    public Encoding Encode(ReadOnlySpan<float> input)
    {
        int rows = RowsOf(input);
        var prepared = input.ToArray();
        var scale = new float[rows];
        var mean = new float[rows];
        Array.Fill(scale, 1f);
        for (int r = 0; r < rows; r++)
        {
            var row = prepared.AsSpan(r * InputWidth, InputWidth);
            Normalize(row, out scale[r], out mean[r]);
            if (Header.SubtractDecoderBiasFromInput) TensorPrimitives.Subtract(row, DecoderBias, row);
        }
        var pre = Project(prepared, rows, _encoder, _encoderBias);
        var features = new float[pre.Length];
        var magnitude = Architecture == SaeArchitecture.Gated ? Project(prepared, rows, _magnitudeEncoder!, _magnitudeBias!) : null;
        for (int r = 0; r < rows; r++)
        {
            var p = pre.AsSpan(r * Features, Features);
            var f = features.AsSpan(r * Features, Features);
            switch (Architecture)
            {
                case SaeArchitecture.Standard:
                    TensorPrimitives.Max(p, 0f, f);
                    break;
                case SaeArchitecture.JumpRelu:
                    for (int i = 0; i < Features; i++) f[i] = p[i] > Threshold![i] && p[i] > 0 ? p[i] : 0f;
                    break;
                case SaeArchitecture.TopK:
                    foreach (int i in TopIndices(p, K)) f[i] = Math.Max(p[i], 0f);
                    break;
                case SaeArchitecture.Gated:
                    var m = magnitude!.AsSpan(r * Features, Features);
                    for (int i = 0; i < Features; i++) f[i] = p[i] > 0 ? Math.Max(m[i], 0f) : 0f;
                    break;
            }
        }
        return new Encoding(features, scale, mean);
    }

    /// <summary>Reconstructions [rows, d_in]: Σ_f a_f · W_dec[f] + b_dec over the active features, with the input normalisation undone.</summary>
    public float[] Decode(Encoding encoding)
    {
        int rows = encoding.Features.Length / Features;
        var output = new float[rows * InputWidth];
        for (int r = 0; r < rows; r++)
        {
            var row = output.AsSpan(r * InputWidth, InputWidth);
            DecoderBias.CopyTo(row);
            var acts = encoding.Features.AsSpan(r * Features, Features);
            for (int f = 0; f < Features; f++)
                if (acts[f] != 0) TensorPrimitives.MultiplyAdd(Decoder.AsSpan(f * InputWidth, InputWidth), acts[f], row, row);
            Denormalize(row, encoding.Scale[r], encoding.Mean[r]);
        }
        return output;
    }

    /// <summary>The decoder direction of feature <paramref name="feature"/> (what feature steering adds).</summary>
    public ReadOnlySpan<float> Direction(int feature)
    {
        if ((uint)feature >= (uint)Features) throw new NativeLayersException($"feature {feature} is out of range; {Source} has features 0..{Features - 1}.");
        return Decoder.AsSpan(feature * InputWidth, InputWidth);
    }

    private int RowsOf(ReadOnlySpan<float> input)
    {
        if (input.Length % InputWidth != 0)
            throw new NativeLayersException($"{Source} reads rows of {InputWidth} values (d_in); got {input.Length} values.");
        return input.Length / InputWidth;
    }

    private void Normalize(Span<float> row, out float scale, out float mean)
    {
        scale = 1f;
        mean = 0f;
        switch (Header.Normalization)
        {
            case SaeNormalization.ConstantNormRescale:
                float norm = TensorPrimitives.Norm(row);
                scale = norm > 0 ? MathF.Sqrt(InputWidth) / norm : 1f;
                TensorPrimitives.Multiply(row, scale, row);
                break;
            case SaeNormalization.LayerNorm:
                mean = TensorPrimitives.Sum(row) / InputWidth;
                TensorPrimitives.Subtract(row, mean, row);
                float std = MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / Math.Max(1, InputWidth - 1));
                scale = 1f / (std + 1e-5f);
                TensorPrimitives.Multiply(row, scale, row);
                break;
        }
    }

    private void Denormalize(Span<float> row, float scale, float mean)
    {
        if (Header.Normalization == SaeNormalization.None) return;
        if (Header.Normalization == SaeNormalization.LayerNorm)
        {
            // torch multiplies by std (not std + eps) on the way out.
            float std = 1f / scale - 1e-5f;
            TensorPrimitives.Multiply(row, std, row);
            TensorPrimitives.Add(row, mean, row);
            return;
        }
        TensorPrimitives.Divide(row, scale, row);
    }

    private float[] Project(float[] input, int rows, PinnedBuffer weights, PinnedBuffer bias)
    {
        var output = new float[rows * Features];
        var matrix = new WeightMatrix((byte*)weights.Pointer, DType.F32, Features, InputWidth);
        fixed (float* x = input, y = output)
            MatMul.Run(WorkerPool.Default, x, InputWidth, rows, matrix, bias.Pointer, y, Features, accumulate: false);
        return output;
    }

    /// <summary>Indices of the k largest values (ties: the lower index), by a bounded min-heap.</summary>
    private static int[] TopIndices(ReadOnlySpan<float> values, int k)
    {
        var heap = new PriorityQueue<int, (float Value, int NegIndex)>();
        for (int i = 0; i < values.Length; i++)
        {
            var key = (values[i], -i);
            if (heap.Count < k) heap.Enqueue(i, key);
            else if (heap.TryPeek(out _, out var smallest) && key.CompareTo(smallest) > 0) heap.EnqueueDequeue(i, key);
        }
        var result = new int[heap.Count];
        for (int j = 0; heap.TryDequeue(out int index, out _); j++) result[j] = index;
        return result;
    }
}
