namespace NativeLayers.OnnxPeer;

public static class Agreement
{
    /// <summary>The smallest cosine between matching rows of two [rows, width] arrays (float64 sums).</summary>
    public static double MinCosine(float[] a, float[] b, int width)
    {
        double min = 1;
        for (int row = 0; row < a.Length / width; row++)
        {
            double dot = 0, na = 0, nb = 0;
            for (int i = row * width; i < (row + 1) * width; i++)
            {
                dot += a[i] * (double)b[i];
                na += a[i] * (double)a[i];
                nb += b[i] * (double)b[i];
            }
            min = Math.Min(min, dot / Math.Sqrt(na * nb));
        }
        return min;
    }
}
