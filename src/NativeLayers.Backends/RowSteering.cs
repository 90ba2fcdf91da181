namespace NativeLayers.Backends;

/// <summary>
/// Additions to rows of a [rows, width] buffer: row r gets Σ_e Coefficients[r·Entries + e] · Vectors[Indices[r·Entries + e]]
/// over e &lt; Entries, skipping index −1. Vectors is [vectors, width]. Built on the host once per call and point.
/// </summary>
public sealed record RowSteering(int[] Indices, float[] Coefficients, float[] Vectors, int Entries);
