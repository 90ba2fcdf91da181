namespace NativeLayers.Backends.Cpu;

/// <summary>
/// Rotary position embedding in Hugging Face's rotate_half convention: within the first <c>rotaryDim</c> dims of
/// each head, dim i pairs with dim i + rotaryDim/2. Tables hold cos/sin per position, rotaryDim/2 values each.
/// </summary>
public static unsafe class Rope
{
    public static void Apply(float* vector, int heads, int headDim, int rotaryDim, float* cos, float* sin)
    {
        int half = rotaryDim / 2;
        for (int h = 0; h < heads; h++)
        {
            float* v = vector + h * headDim;
            for (int i = 0; i < half; i++)
            {
                float a = v[i], b = v[i + half];
                v[i] = a * cos[i] - b * sin[i];
                v[i + half] = b * cos[i] + a * sin[i];
            }
        }
    }
}
