namespace NativeLayers.Analysis.Vectors;

/// <summary>The steering-vector extraction methods of §12; the names appear in outputs and file metadata.</summary>
public enum SteeringMethod
{
    /// <summary>mean_i (h⁺_i − h⁻_i) (CAA; repana R-C; steering-vectors default). Natural norm and sign.</summary>
    MeanDiff,
    /// <summary>MeanDiff / ‖MeanDiff‖ (llama.cpp <c>--method mean</c>).</summary>
    MeanDiffUnit,
    /// <summary>mean_i h⁺_i, no negatives (repana R, used in (d)).</summary>
    Reading,
    /// <summary>mean(H⁺) − mean(H⁻) with different row counts allowed (Kannan (b)).</summary>
    UnpairedMeanDiff,
    /// <summary>First principal axis of the centred pair differences (repeng pca_diff; repana PCA-C). Unit, sign fixed.</summary>
    PcaDiffCentered,
    /// <summary>Top eigenvector of Σ d_i d_iᵀ, no centring (steering-vectors pca; repeng pca_center; llama.cpp pca). Unit, sign fixed.</summary>
    PcaDiffUncentered,
    /// <summary>Seeded random flips within pairs, centre, first PC; sign by classification accuracy (Zou et al. 2023). Unit.</summary>
    RepEReading,
}

/// <summary>How the sign of a PCA direction is chosen (§12).</summary>
public enum SignRule
{
    /// <summary>repeng: flip when h⁺ projects below h⁻ in more pairs than above. The default.</summary>
    Repeng,
    /// <summary>steering-vectors: flip when mean_i (d_i·u) &lt; 0.</summary>
    MeanProjection,
}
