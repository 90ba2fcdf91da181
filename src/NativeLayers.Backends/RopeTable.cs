using NativeLayers.Loading;

namespace NativeLayers.Backends;

/// <summary>
/// cos/sin of position · inv_freq for every position, computed in float32 the way Hugging Face does
/// (inv_freq = 1 / theta^(2i/d)), with optional linear or Llama-3 frequency scaling. Grows on demand.
/// </summary>
public sealed unsafe class RopeTable
{
    private readonly float[] _invFreq;
    private readonly object _growLock = new();
    private PinnedBuffer _cos = new(0), _sin = new(0);

    public int Half { get; }
    public int Positions { get; private set; }

    public RopeTable(int rotaryDim, double theta, RopeScaling? scaling, int initialPositions)
    {
        Half = rotaryDim / 2;
        _invFreq = new float[Half];
        for (int i = 0; i < Half; i++)
            _invFreq[i] = 1f / MathF.Pow((float)theta, (float)(2 * i) / rotaryDim);
        if (scaling != null) ApplyScaling(scaling);
        EnsurePositions(initialPositions);
    }

    private void ApplyScaling(RopeScaling s)
    {
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
                    cos.Array[p * Half + i] = MathF.Cos(angle);
                    sin.Array[p * Half + i] = MathF.Sin(angle);
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
