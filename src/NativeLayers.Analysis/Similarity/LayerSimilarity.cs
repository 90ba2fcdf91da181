using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Similarity;

/// <summary>The representation-similarity measures of §10–11.</summary>
public enum SimilarityMethod
{
    LinearCka,
    RbfCka,
    DebiasedLinearCka,
    DebiasedRbfCka,
    Svcca,
    /// <summary>PWCCA(A-layer → B-layer): asymmetric.</summary>
    Pwcca,
}

/// <summary>Settings of a layer×layer similarity computation.</summary>
public sealed record SimilarityOptions
{
    public RbfOptions Rbf { get; init; } = new();
    /// <summary>SVCCA's variance threshold v.</summary>
    public double VarianceThreshold { get; init; } = Cca.DefaultVarianceThreshold;
    /// <summary>The most memory the per-layer n×n kernels may take together; linear CKA switches to the feature form beyond it.</summary>
    public long KernelMemoryBudgetBytes { get; init; } = 2L << 30;
}

/// <summary>
/// A layer×layer similarity matrix: <c>Values[i, j]</c> compares layer i of the first list with layer j of the
/// second. <see cref="Rows"/> is n (inputs or tokens compared), reported with every result as §10 asks.
/// </summary>
public sealed record SimilarityMatrix(SimilarityMethod Method, double[,] Values, int Rows, string Form, IReadOnlyList<string> Warnings);

/// <summary>
/// Layer×layer similarity between the layers of one model (B omitted: symmetric methods fill one triangle and mirror
/// it) or two models of any widths, on the same n inputs. Each layer is prepared once — its centred (or
/// U-centred) kernel, its centred transposed features, or its QR basis — and every pair then costs one inner product
/// (kernel methods: O(n²)), one cross product (feature-form linear CKA: O(n·p·q)) or one small SVD (CCA).
/// </summary>
public static class LayerSimilarity
{
    public static SimilarityMatrix Compute(IReadOnlyList<Matrix> a, IReadOnlyList<Matrix>? b, SimilarityMethod method,
        SimilarityOptions? options = null, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        options ??= new SimilarityOptions();
        bool self = b == null || ReferenceEquals(a, b);
        b ??= a;
        if (a.Count == 0 || b.Count == 0) throw new NativeLayersException("no layers to compare.");
        int n = a[0].Rows;
        foreach (var m in a.Concat(b))
            if (m.Rows != n) throw new NativeLayersException($"every layer must have the same rows (inputs): got {m.Rows} and {n}.");
        bool symmetric = self && method != SimilarityMethod.Pwcca;
        int prepareSteps = self ? a.Count : a.Count + b.Count;
        int pairs = symmetric ? a.Count * (a.Count + 1) / 2 : a.Count * b.Count;
        double total = prepareSteps + pairs;
        int done = 0;
        void Step()
        {
            int d = Interlocked.Increment(ref done);
            progress?.Report(Math.Min(1, d / total));
        }

        var warnings = new List<string>();
        var values = new double[a.Count, b.Count];
        string form;
        switch (method)
        {
            case SimilarityMethod.LinearCka when !UseKernels(a, b, self, n, options):
            {
                form = "feature (‖Y_cᵀX_c‖_F² / (‖X_cᵀX_c‖_F·‖Y_cᵀY_c‖_F))";
                var pa = a.Select(m => { var f = PrepareFeatures(m); Step(); return f; }).ToArray();
                var pb = self ? pa : b.Select(m => { var f = PrepareFeatures(m); Step(); return f; }).ToArray();
                Fill(values, symmetric, a.Count, b.Count, (i, j) =>
                {
                    var r = Cka.Ratio(Cka.SumOfSquares(DenseKernels.TimesTranspose(pa[i].Xt, pb[j].Xt)), pa[i].Norm, pb[j].Norm);
                    Step();
                    return r;
                });
                break;
            }
            case SimilarityMethod.LinearCka or SimilarityMethod.RbfCka or SimilarityMethod.DebiasedLinearCka or SimilarityMethod.DebiasedRbfCka:
            {
                RequireKernelMemory(a, b, self, n, options);
                bool debiased = method is SimilarityMethod.DebiasedLinearCka or SimilarityMethod.DebiasedRbfCka;
                bool rbf = method is SimilarityMethod.RbfCka or SimilarityMethod.DebiasedRbfCka;
                form = (debiased ? "U-centred" : "centred") + (rbf ? $" RBF kernels (thr {options.Rbf.Threshold}, median over {options.Rbf.Median})" : " linear kernels");
                PreparedKernel Prep(Matrix m)
                {
                    var k = rbf ? Kernels.Rbf(m, options.Rbf).Kernel : Kernels.CenteredLinear(m);
                    k = debiased ? Kernels.UCenterInPlace(k) : Kernels.DoubleCenterInPlace(k);
                    var p = new PreparedKernel(k.Data, Math.Sqrt(DenseKernels.FrobeniusDot(k.Data, k.Data)));
                    Step();
                    return p;
                }
                var ka = a.Select(Prep).ToArray();
                var kb = self ? ka : b.Select(Prep).ToArray();
                int nan = 0;
                Fill(values, symmetric, a.Count, b.Count, (i, j) =>
                {
                    double r;
                    if (debiased && (!(ka[i].Norm > 0) || !(kb[j].Norm > 0))) { r = double.NaN; Interlocked.Increment(ref nan); }
                    else r = Cka.Ratio(DenseKernels.FrobeniusDot(ka[i].K, kb[j].K), ka[i].Norm, kb[j].Norm);
                    Step();
                    return r;
                });
                if (nan > 0) warnings.Add($"{nan} debiased CKA value(s) are NaN: a self-HSIC_u was ≤ 0 (constant or too few rows).");
                break;
            }
            case SimilarityMethod.Svcca:
            {
                form = $"SVCCA (v = {options.VarianceThreshold})";
                Cca.Side Prep(Matrix m)
                {
                    var (reduced, _) = Cca.SvdReduce(m, options.VarianceThreshold);
                    var s = Cca.Prepare(reduced, computeWeights: false);
                    Step();
                    return s;
                }
                var sa = a.Select(Prep).ToArray();
                var sb = self ? sa : b.Select(Prep).ToArray();
                warnings.AddRange(Cca.SampleSizeWarnings(n, sa.Max(s => s.Cols), sb.Max(s => s.Cols)));
                Fill(values, symmetric, a.Count, b.Count, (i, j) =>
                {
                    var (rho, _) = Cca.Correlate(sa[i], sb[j], wantVectors: false);
                    Step();
                    return rho.Length == 0 ? double.NaN : rho.Average();
                });
                warnings.Add($"SVCCA kept dimensions: A {string.Join(",", sa.Select(s => s.Cols))}; B {string.Join(",", sb.Select(s => s.Cols))}.");
                break;
            }
            case SimilarityMethod.Pwcca:
            {
                form = "PWCCA (row layer → column layer)";
                warnings.AddRange(Cca.SampleSizeWarnings(n, a.Max(m => m.Cols), b.Max(m => m.Cols)));
                var sa = a.Select(m => { var s = Cca.Prepare(m, computeWeights: true); Step(); return s; }).ToArray();
                var sb = self ? sa : b.Select(m => { var s = Cca.Prepare(m, computeWeights: false); Step(); return s; }).ToArray();
                Fill(values, symmetric: false, a.Count, b.Count, (i, j) =>
                {
                    var r = Cca.Pwcca(sa[i], sb[j]).Value;
                    Step();
                    return r;
                });
                break;
            }
            default:
                throw new NativeLayersException($"unknown similarity method {method}.");
        }
        progress?.Report(1);
        return new SimilarityMatrix(method, values, n, form, warnings);
    }

    /// <summary>Compares one pair of representations with the chosen method (PWCCA: X → Y).</summary>
    public static double Pair(Matrix x, Matrix y, SimilarityMethod method, SimilarityOptions? options = null)
    {
        options ??= new SimilarityOptions();
        return method switch
        {
            SimilarityMethod.LinearCka => Cka.Linear(x, y),
            SimilarityMethod.RbfCka => Cka.Rbf(x, y, options.Rbf),
            SimilarityMethod.DebiasedLinearCka => Cka.DebiasedLinear(x, y),
            SimilarityMethod.DebiasedRbfCka => Cka.DebiasedRbf(x, y, options.Rbf),
            SimilarityMethod.Svcca => Cca.Svcca(x, y, options.VarianceThreshold).Value,
            SimilarityMethod.Pwcca => Cca.Pwcca(x, y).Value,
            _ => throw new NativeLayersException($"unknown similarity method {method}."),
        };
    }

    private sealed record PreparedKernel(double[] K, double Norm);
    private sealed record PreparedFeatures(Matrix Xt, double Norm);

    private static PreparedFeatures PrepareFeatures(Matrix m)
    {
        var xt = DenseKernels.Transpose(Kernels.RequireData(m).CenterRows());
        return new PreparedFeatures(xt, Math.Sqrt(Cka.SumOfSquares(DenseKernels.Gram(xt))));
    }

    /// <summary>Kernel (Gram) route for linear CKA when the kernels fit in memory and cost less than the per-pair feature products.</summary>
    private static bool UseKernels(IReadOnlyList<Matrix> a, IReadOnlyList<Matrix> b, bool self, int n, SimilarityOptions options)
    {
        int count = self ? a.Count : a.Count + b.Count;
        double n2 = (double)n * n;
        if (count * n2 * 8 > options.KernelMemoryBudgetBytes) return false;
        double kernelCost = a.Concat(self ? [] : b).Sum(m => n2 * m.Cols) + (double)a.Count * b.Count * n2;
        double featureCost = 0;
        foreach (var x in a) foreach (var y in b) featureCost += (double)n * x.Cols * y.Cols;
        featureCost += a.Concat(self ? [] : b).Sum(m => (double)n * m.Cols * m.Cols);
        return kernelCost <= featureCost;
    }

    private static void RequireKernelMemory(IReadOnlyList<Matrix> a, IReadOnlyList<Matrix> b, bool self, int n, SimilarityOptions options)
    {
        int count = self ? a.Count : a.Count + b.Count;
        double bytes = (double)count * n * n * 8;
        if (bytes > options.KernelMemoryBudgetBytes)
            throw new NativeLayersException($"the {count} per-layer {n}×{n} kernels need {bytes / (1 << 30):F1} GiB, over the {options.KernelMemoryBudgetBytes / (double)(1 << 30):F1} GiB budget; " +
                "use fewer rows (pooled mode, fewer prompts) or linear CKA, which has a feature-space form.");
    }

    /// <summary>Fills the matrix (one triangle when symmetric), pairs in parallel.</summary>
    private static void Fill(double[,] values, bool symmetric, int rows, int cols, Func<int, int, double> score)
    {
        var pairs = new List<(int I, int J)>();
        for (int i = 0; i < rows; i++)
            for (int j = symmetric ? i : 0; j < cols; j++) pairs.Add((i, j));
        Parallel.ForEach(pairs, p =>
        {
            double v = score(p.I, p.J);
            values[p.I, p.J] = v;
            if (symmetric) values[p.J, p.I] = v;
        });
    }
}
