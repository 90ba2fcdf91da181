using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Analysis.Saes;

/// <summary>A feature held at a value wherever the splice runs (0 ablates it).</summary>
public sealed record FeatureClamp(int Feature, float Value);

/// <summary>
/// An SAE spliced into the forward pass at its hook point: each row is encoded, the clamped features set, and replaced
/// by the reconstruction; with <see cref="KeepError"/> the row keeps the SAE's error term, x + (decode(edited) −
/// decode(original)), so an unedited splice leaves the forward unchanged. <see cref="Encoded"/> sees every row's
/// feature activations (before the clamps) with its position, for capture.
/// </summary>
public sealed class SaeSplice(SparseAutoencoder sae, bool keepError = false, IReadOnlyList<FeatureClamp>? clamps = null) : IRowTransform
{
    public SparseAutoencoder Sae { get; } = sae;
    public bool KeepError { get; } = keepError;
    public IReadOnlyList<FeatureClamp> Clamps { get; } = Validated(sae, clamps ?? []);
    public Action<float[], int[]>? Encoded { get; init; }

    public int Width => Sae.InputWidth;

    public void Apply(Span<float> rows, ReadOnlySpan<int> positions)
    {
        var encoding = Sae.Encode(rows);
        Encoded?.Invoke((float[])encoding.Features.Clone(), positions.ToArray());
        if (KeepError && Clamps.Count == 0) return; // x + decode(f) − decode(f): the rows as they are
        float[]? original = KeepError ? Sae.Decode(encoding) : null;
        int features = Sae.Features;
        foreach (var clamp in Clamps)
            for (int r = 0; r < positions.Length; r++) encoding.Features[r * features + clamp.Feature] = clamp.Value;
        var edited = Sae.Decode(encoding);
        if (original == null)
        {
            edited.CopyTo(rows);
            return;
        }
        for (int i = 0; i < rows.Length; i++) rows[i] += edited[i] - original[i];
    }

    public override string ToString() => $"the SAE {Sae.Source}";

    private static IReadOnlyList<FeatureClamp> Validated(SparseAutoencoder sae, IReadOnlyList<FeatureClamp> clamps)
    {
        foreach (var clamp in clamps)
        {
            sae.Direction(clamp.Feature); // range check with the SAE's own message
            if (!float.IsFinite(clamp.Value)) throw new Loading.NativeLayersException($"the clamp of feature {clamp.Feature} is not a finite number.");
        }
        return clamps;
    }
}
