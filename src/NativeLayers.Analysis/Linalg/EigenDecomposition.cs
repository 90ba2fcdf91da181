namespace NativeLayers.Analysis.Linalg;

/// <summary>
/// Eigenvalues in descending order and, when requested, the matching orthonormal eigenvectors as the columns of
/// <see cref="Vectors"/>. Each eigenvector's sign is fixed so that its largest-magnitude component is positive.
/// </summary>
public sealed class EigenDecomposition
{
    public double[] Values { get; }
    /// <summary>n×n; column j is the eigenvector of <c>Values[j]</c>. Null when only eigenvalues were computed.</summary>
    public Matrix? Vectors { get; }

    public EigenDecomposition(double[] values, Matrix? vectors)
    {
        Values = values;
        Vectors = vectors;
    }

    /// <summary>The eigenvector of <c>Values[j]</c> as a new array.</summary>
    public double[] Vector(int j) =>
        (Vectors ?? throw new InvalidOperationException("this decomposition was computed without eigenvectors.")).Column(j);

    /// <summary>The eigenvalues with the §0.2 clamping applied.</summary>
    public double[] ClampedValues() => Spectrum.Clamp(Values);
}
