using System.Numerics.Tensors;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Vectors;

/// <summary>Small float64 vector helpers used across the steering code.</summary>
public static class VectorMath
{
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new NativeLayersException($"vectors of lengths {a.Length} and {b.Length} cannot be combined.");
        return TensorPrimitives.Dot(a, b);
    }

    public static double Norm(ReadOnlySpan<double> a) => TensorPrimitives.Norm(a);

    /// <summary>Cosine similarity; a zero vector is an error.</summary>
    public static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double na = Norm(a), nb = Norm(b);
        if (na == 0 || nb == 0) throw new NativeLayersException("the cosine of a zero vector is undefined.");
        return Dot(a, b) / (na * nb);
    }

    /// <summary>A unit-norm copy; a zero vector is an error naming <paramref name="what"/>.</summary>
    public static double[] Unit(ReadOnlySpan<double> a, string what)
    {
        double n = Norm(a);
        if (!(n > 0) || !double.IsFinite(n)) throw new NativeLayersException($"cannot normalise {what}: its norm is {n}.");
        var u = a.ToArray();
        TensorPrimitives.Multiply(u, 1 / n, u);
        return u;
    }

    /// <summary>The median (numpy convention: mean of the two middle values for an even count).</summary>
    public static double Median(ReadOnlySpan<double> values)
    {
        if (values.IsEmpty) throw new NativeLayersException("the median of no values is undefined.");
        var s = values.ToArray();
        Array.Sort(s);
        int m = s.Length / 2;
        return s.Length % 2 == 1 ? s[m] : 0.5 * (s[m - 1] + s[m]);
    }
}
