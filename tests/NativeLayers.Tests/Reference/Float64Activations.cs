using NativeLayers.Loading;

namespace NativeLayers.Tests.Reference;

/// <summary>The activation functions in float64, from their definitions (GELU through a series for erf).</summary>
public static class Float64Activations
{
    public static double Erf(double x)
    {
        // Maclaurin series: exact to double precision for |x| ≤ 3 with 80 terms; erf(x) = ±1 to double precision past 6.
        if (Math.Abs(x) > 6) return Math.Sign(x);
        double sum = 0, term = x;
        for (int n = 0; n < 200; n++)
        {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    public static double Apply(Activation activation, double x) => activation switch
    {
        Activation.Silu => x / (1 + Math.Exp(-x)),
        Activation.Gelu => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        Activation.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        Activation.Relu => Math.Max(0, x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };
}
