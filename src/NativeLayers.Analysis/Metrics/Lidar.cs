using System.Numerics.Tensors;
using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>A LiDAR result (metrics.md §8).</summary>
/// <param name="Entropy">S_α(Σ_lda) — what (a) reports (normalise with N = number of prompts).</param>
/// <param name="EffectiveRank">exp(S_1(Σ_lda)) — the original LiDAR (Thilak et al.), without their negligible ε.</param>
/// <param name="Eigenvalues">The nonzero-candidate eigenvalues of Σ_lda, descending.</param>
public sealed record LidarResult(double Entropy, double EffectiveRank, double[] Eigenvalues);

/// <summary>
/// LiDAR (metrics.md §8, after Thilak et al. 2024), exact and efficient: Σ_w = L Lᵀ (Cholesky), W = L⁻¹ M with M the
/// D×N centred class means, and the eigenvalues of Σ_lda = Σ_w^{-1/2} Σ_b Σ_w^{-1/2} are those of (1/N) WᵀW (N×N) or
/// (1/N) W Wᵀ (D×D), whichever is smaller. Classes are prompts; their rows are the J augmentations.
/// <see cref="LidarAccumulator"/> streams the classes so the N×J×D tensor is never held.
/// </summary>
public static class Lidar
{
    public const double DefaultDelta = 1e-4;

    /// <summary>LiDAR of N classes, each a J×D matrix of augmentation embeddings (equal J).</summary>
    public static LidarResult Compute(IReadOnlyList<Matrix> classes, double alpha = 1, double delta = DefaultDelta)
    {
        ArgumentNullException.ThrowIfNull(classes);
        if (classes.Count == 0) throw new NativeLayersException("LiDAR needs at least one class.");
        var acc = new LidarAccumulator(classes[0].Cols);
        foreach (var c in classes) acc.Add(c);
        return acc.Compute(alpha, delta);
    }
}

/// <summary>
/// Streams LiDAR's statistics class by class (§8): the class means (N×D) and the within-class scatter (D×D, built by
/// blocked Gram updates of centred rows). Memory O(N·D + D²), independent of J.
/// </summary>
public sealed class LidarAccumulator
{
    private const int FlushRows = 256;
    private readonly int _d;
    private readonly List<double[]> _means = [];
    private readonly double[] _within;
    private readonly List<double[]> _pending = [];
    private long _rows;
    private int? _j;

    public LidarAccumulator(int width)
    {
        if (width < 1) throw new NativeLayersException($"LiDAR needs a width ≥ 1, got {width}.");
        if ((long)width * width > Array.MaxLength) throw new NativeLayersException($"a {width}×{width} scatter matrix is too large.");
        _d = width;
        _within = new double[width * width];
    }

    public int Classes => _means.Count;
    public int Width => _d;

    /// <summary>Adds one class: its J augmentation embeddings as the rows of a J×D matrix (the same J for every class).</summary>
    public void Add(Matrix rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Cols != _d) throw new NativeLayersException($"a class has width {rows.Cols}, expected {_d}.");
        if (rows.Rows < 1) throw new NativeLayersException("a LiDAR class needs at least one augmentation.");
        if (_j is { } j && j != rows.Rows) throw new NativeLayersException($"every class needs the same number of augmentations ({j}), got {rows.Rows}.");
        if (!rows.IsFinite()) throw new NativeLayersException("a LiDAR class contains NaN or infinity.");
        _j = rows.Rows;
        var mean = rows.ColumnMeans();
        _means.Add(mean);
        for (int r = 0; r < rows.Rows; r++)
        {
            var centred = new double[_d];
            TensorPrimitives.Subtract(rows.Row(r), mean, centred);
            _pending.Add(centred);
        }
        _rows += rows.Rows;
        if (_pending.Count >= FlushRows) Flush();
    }

    private void Flush()
    {
        if (_pending.Count == 0) return;
        var block = Preprocessing.Stack(_pending, _d);
        _pending.Clear();
        var g = GramMatrix.Columns(block);
        TensorPrimitives.Add(_within, g.Data, _within);
    }

    /// <summary>Σ_lda's spectrum and entropies; δ is added to Σ_w's diagonal.</summary>
    public LidarResult Compute(double alpha = 1, double delta = Lidar.DefaultDelta)
    {
        RenyiEntropy.CheckAlpha(alpha);
        if (!(delta >= 0) || !double.IsFinite(delta)) throw new NativeLayersException($"δ must be finite and ≥ 0, got {delta}.");
        int n = _means.Count, d = _d;
        if (n < 2) throw new NativeLayersException($"LiDAR needs at least 2 classes, got {n}.");
        Flush();

        var sw = new Matrix(d, d);
        double scale = 1.0 / _rows;
        for (int i = 0; i < _within.Length; i++) sw.Data[i] = _within[i] * scale;
        for (int i = 0; i < d; i++) sw.Data[i * d + i] += delta;

        // M: D×N centred class means (μ_i − μ), μ = mean of the class means (equal J).
        var grand = new double[d];
        foreach (var m in _means) TensorPrimitives.Add(grand, m, grand);
        TensorPrimitives.Multiply(grand, 1.0 / n, grand);
        var w = new Matrix(d, n);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < d; k++) w.Data[k * n + i] = _means[i][k] - grand[k];

        var l = Cholesky.Factor(sw).L;
        ForwardSubstitute(l, w);

        // Σ_lda ~ (1/N) W Wᵀ (D×D); same nonzero eigenvalues as (1/N) WᵀW (N×N).
        var k2 = n <= d ? GramMatrix.Rows(w.Transpose()) : GramMatrix.Rows(w);
        TensorPrimitives.Multiply(k2.Data, 1.0 / n, k2.Data);
        var eig = RenyiEntropy.Eigenvalues(k2);
        double entropy = RenyiEntropy.FromEigenvalues(eig, alpha);
        double s1 = alpha == 1 ? entropy : RenyiEntropy.FromEigenvalues(eig, 1);
        return new LidarResult(entropy, Math.Exp(s1), eig);
    }

    /// <summary>Solves L X = B in place for every column of B (L lower triangular), rows updated with vector ops.</summary>
    private static void ForwardSubstitute(Matrix l, Matrix b)
    {
        int d = l.Rows, n = b.Cols;
        for (int i = 0; i < d; i++)
        {
            var bi = b.Row(i);
            for (int k = 0; k < i; k++)
            {
                double lik = l.Data[i * d + k];
                if (lik != 0) TensorPrimitives.MultiplyAdd(b.Row(k), -lik, bi, bi);
            }
            TensorPrimitives.Multiply(bi, 1.0 / l.Data[i * d + i], bi);
        }
    }
}
