using NativeLayers.Analysis.Linalg;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>A DiME estimate (metrics.md §9).</summary>
/// <param name="Value">E_Π[S_α(K_A ∘ Π K_B Πᵀ)] − H (the mean over the permutations drawn or enumerated).</param>
/// <param name="StandardDeviation">Population standard deviation, over the permutations, of S_α(K_A ∘ Π K_B Πᵀ) (the spread of the estimate).</param>
/// <param name="Matched">H = S_α(K_A ∘ K_B).</param>
/// <param name="Shuffled">The mean of S_α(K_A ∘ Π K_B Πᵀ).</param>
/// <param name="Permutations">How many permutations were used.</param>
public sealed record DimeResult(double Value, double StandardDeviation, double Matched, double Shuffled, int Permutations);

/// <summary>
/// DiME (metrics.md §9, after Skean et al. 2023): the joint entropy of shuffled pairs minus that of matched pairs,
/// with K_A = A Aᵀ and K_B = B Bᵀ (always N×N; the reference's D×D form for N &gt; D is a different quantity and is not
/// reproduced). <see cref="Exact"/> enumerates all N! permutations (N ≤ 8); <see cref="Sample"/> draws P uniform
/// permutations from a seeded generator. Normalise by min(ln N, ln D) as (a) does with <see cref="EntropyNormalizations"/>.
/// </summary>
public static class Dime
{
    public const int DefaultPermutations = 10;
    public const int MaxExactSize = 8;

    /// <summary>DiME over every one of the N! permutations (the identity included), N ≤ 8.</summary>
    public static DimeResult Exact(Matrix a, Matrix b, double alpha = 1)
    {
        var (ka, kb) = Kernels(a, b, alpha);
        int n = ka.Rows;
        if (n > MaxExactSize) throw new NativeLayersException($"exact DiME enumerates N! permutations and is limited to N ≤ {MaxExactSize}, got N = {n}.");
        double matched = Joint(ka, kb, null, alpha);
        var values = new List<double>();
        var perm = Enumerable.Range(0, n).ToArray();
        // Heap's algorithm, iterative.
        var c = new int[n];
        values.Add(Joint(ka, kb, perm, alpha));
        int i = 0;
        while (i < n)
        {
            if (c[i] < i)
            {
                if (i % 2 == 0) (perm[0], perm[i]) = (perm[i], perm[0]);
                else (perm[c[i]], perm[i]) = (perm[i], perm[c[i]]);
                values.Add(Joint(ka, kb, perm, alpha));
                c[i]++;
                i = 0;
            }
            else { c[i] = 0; i++; }
        }
        return Summarize(values, matched);
    }

    /// <summary>DiME estimated with <paramref name="permutations"/> uniformly random permutations (Fisher–Yates, seeded).</summary>
    public static DimeResult Sample(Matrix a, Matrix b, double alpha = 1, int permutations = DefaultPermutations, ulong seed = 0)
    {
        if (permutations < 1) throw new NativeLayersException($"DiME needs at least one permutation, got {permutations}.");
        var (ka, kb) = Kernels(a, b, alpha);
        int n = ka.Rows;
        double matched = Joint(ka, kb, null, alpha);
        var rng = new SplitMix64(seed);
        var perms = new int[permutations][];
        for (int p = 0; p < permutations; p++)
        {
            var perm = Enumerable.Range(0, n).ToArray();
            for (int i = n - 1; i > 0; i--)
            {
                int j = rng.Next(i + 1);
                (perm[i], perm[j]) = (perm[j], perm[i]);
            }
            perms[p] = perm;
        }
        var values = new double[permutations];
        Parallel.For(0, permutations, p => values[p] = Joint(ka, kb, perms[p], alpha));
        return Summarize(values, matched);
    }

    private static (Matrix, Matrix) Kernels(Matrix a, Matrix b, double alpha)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        RenyiEntropy.CheckAlpha(alpha);
        if (a.Rows != b.Rows)
            throw new NativeLayersException($"the two views must have the same number of rows, got {a.Rows} and {b.Rows}.");
        if (a.Rows < 2) throw new NativeLayersException("DiME needs at least two pairs.");
        if (!a.IsFinite() || !b.IsFinite()) throw new NativeLayersException("the views contain NaN or infinity.");
        return (GramMatrix.Rows(a), GramMatrix.Rows(b));
    }

    /// <summary>S_α(K_A ∘ Π K_B Πᵀ); (Π K_B Πᵀ)_ij = K_B[π(i), π(j)]; π = null is the identity.</summary>
    private static double Joint(Matrix ka, Matrix kb, int[]? perm, double alpha)
    {
        int n = ka.Rows;
        var h = new Matrix(n, n);
        for (int i = 0; i < n; i++)
        {
            int pi = perm?[i] ?? i;
            for (int j = 0; j < n; j++)
            {
                int pj = perm?[j] ?? j;
                h.Data[i * n + j] = ka.Data[i * n + j] * kb.Data[pi * n + pj];
            }
        }
        return RenyiEntropy.Of(h, alpha);
    }

    private static DimeResult Summarize(IReadOnlyList<double> shuffled, double matched)
    {
        double mean = shuffled.Average();
        double variance = shuffled.Sum(v => (v - mean) * (v - mean)) / shuffled.Count;
        return new DimeResult(mean - matched, Math.Sqrt(variance), matched, mean, shuffled.Count);
    }
}

/// <summary>A small, fast, seedable generator (SplitMix64), stable across .NET versions, for reproducible metrics.</summary>
public sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform integer in [0, <paramref name="exclusiveMax"/>).</summary>
    public int Next(int exclusiveMax)
    {
        if (exclusiveMax <= 0) throw new ArgumentOutOfRangeException(nameof(exclusiveMax));
        // Lemire's multiply-shift with rejection: unbiased.
        ulong bound = (ulong)exclusiveMax;
        while (true)
        {
            UInt128 m = (UInt128)NextUInt64() * bound;
            ulong low = (ulong)m;
            if (low >= bound || low >= (0UL - bound) % bound) return (int)(ulong)(m >> 64);
        }
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A seed derived from a base seed and indices (so each item gets an independent, order-free stream).</summary>
    public static ulong Derive(ulong seed, params long[] indices)
    {
        var g = new SplitMix64(seed);
        ulong s = g.NextUInt64();
        foreach (long i in indices) s = new SplitMix64(s ^ (ulong)i * 0xD6E8FEB86659FD93UL).NextUInt64();
        return s;
    }
}
