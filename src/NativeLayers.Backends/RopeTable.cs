using NativeLayers.Loading;

namespace NativeLayers.Backends;

/// <summary>
/// cos/sin of position · inv_freq for every position, computed in float32 the way Hugging Face does
/// (inv_freq = 1 / theta^(2i/d)), with optional linear, Llama-3, YaRN or LongRoPE frequency scaling (LongRoPE: one
/// table for its short factors and one for its long factors). Grows on demand.
/// </summary>
public sealed unsafe class RopeTable
{
    private readonly float[] _invFreq;
    private readonly double _theta;
    private readonly object _growLock = new();
    private PinnedBuffer _cos = new(0), _sin = new(0);

    public int Half { get; }
    public int Positions { get; private set; }

    /// <param name="longFactors">LongRoPE only: this table uses the long factors (sequences past the original context).</param>
    public RopeTable(int rotaryDim, double theta, RopeScaling? scaling, int initialPositions, bool longFactors = false)
    {
        Half = rotaryDim / 2;
        _theta = theta;
        _invFreq = new float[Half];
        for (int i = 0; i < Half; i++)
            _invFreq[i] = 1f / MathF.Pow((float)theta, (float)(2 * i) / rotaryDim);
        if (scaling is { IsLongRope: true }) ApplyLongRope(scaling, longFactors ? scaling.LongFactor! : scaling.ShortFactor!);
        else if (scaling != null) ApplyScaling(scaling);
        EnsurePositions(initialPositions);
    }

    /// <summary>cos and sin are multiplied by this (YaRN's attention scaling, so q·k scales by its square); 1 otherwise.</summary>
    public float AttentionScaling { get; private set; } = 1f;

    private void ApplyScaling(RopeScaling s)
    {
        if (s.Type == "yarn")
        {
            ApplyYarn(s);
            return;
        }
        for (int i = 0; i < Half; i++)
        {
            float f = _invFreq[i];
            if (s.Type == "linear") { _invFreq[i] = f / (float)s.Factor; continue; }
            // llama3: keep high frequencies, divide low ones by factor, blend in between.
            double lowWavelen = s.OriginalMaxPositions / s.LowFreqFactor, highWavelen = s.OriginalMaxPositions / s.HighFreqFactor;
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) continue;
            if (wavelen > lowWavelen) { _invFreq[i] = (float)(f / s.Factor); continue; }
            double smooth = (s.OriginalMaxPositions / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            _invFreq[i] = (float)((1 - smooth) * f / s.Factor + smooth * f);
        }
    }

    /// <summary>
    /// YaRN (Peng et al. 2023, as Hugging Face computes it in float32): dims rotating faster than beta_fast turns over the
    /// original context keep their frequency, those slower than beta_slow are interpolated by the factor, a linear ramp
    /// blends the dims between; cos and sin are scaled by 0.1·ln(factor) + 1 (or attention_factor).
    /// </summary>
    private void ApplyYarn(RopeScaling s)
    {
        int dim = 2 * Half;
        double CorrectionDim(double rotations) => dim * Math.Log(s.OriginalMaxPositions / (rotations * 2 * Math.PI)) / (2 * Math.Log(_theta));
        double low = Math.Max(Math.Floor(CorrectionDim(s.BetaFast)), 0), high = Math.Min(Math.Ceiling(CorrectionDim(s.BetaSlow)), dim - 1);
        if (low == high) high += 0.001;
        for (int i = 0; i < Half; i++)
        {
            float extrapolation = _invFreq[i], interpolation = (float)(_invFreq[i] / s.Factor);
            float ramp = Math.Clamp((float)((i - low) / (high - low)), 0f, 1f);
            float extrapolationFactor = 1 - ramp;
            _invFreq[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        AttentionScaling = (float)(s.AttentionFactor ?? (s.Factor <= 1 ? 1 : 0.1 * Math.Log(s.Factor) + 1));
    }

    /// <summary>LongRoPE: inv_freq[i] = 1 / (factor[i] · theta^(2i/d)), in float32 as Hugging Face computes it; cos and sin scaled.</summary>
    private void ApplyLongRope(RopeScaling s, double[] factors)
    {
        int dim = 2 * Half;
        for (int i = 0; i < Half; i++)
            _invFreq[i] = 1f / ((float)factors[i] * MathF.Pow((float)_theta, (float)(2 * i) / dim));
        AttentionScaling = (float)s.AttentionFactor!.Value;
    }

    public void EnsurePositions(int count)
    {
        if (count <= Positions) return;
        lock (_growLock)
        {
            if (count <= Positions) return;
            int capacity = Math.Max(count, Positions * 2);
            var cos = new PinnedBuffer(capacity * Half);
            var sin = new PinnedBuffer(capacity * Half);
            for (int p = 0; p < capacity; p++)
                for (int i = 0; i < Half; i++)
                {
                    float angle = p * _invFreq[i];
                    cos.Array[p * Half + i] = MathF.Cos(angle) * AttentionScaling;
                    sin.Array[p * Half + i] = MathF.Sin(angle) * AttentionScaling;
                }
            (_cos, _sin) = (cos, sin);
            Positions = capacity;
        }
    }

    /// <summary>[Positions, Half] cos values, row per position.</summary>
    public ReadOnlySpan<float> CosTable => _cos.Array.AsSpan(0, Positions * Half);
    public ReadOnlySpan<float> SinTable => _sin.Array.AsSpan(0, Positions * Half);

    public float* Cos(int position) => _cos.Pointer + (long)position * Half;
    public float* Sin(int position) => _sin.Pointer + (long)position * Half;
}
