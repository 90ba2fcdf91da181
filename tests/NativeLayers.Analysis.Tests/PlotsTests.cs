using System.Text;
using NativeLayers.Analysis.Plots;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Tests;

public sealed class PlotsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nl-plots-").FullName;

    public void Dispose()
    {
        // NL_KEEP_PLOTS=DIR keeps a copy of every figure for looking at it.
        string? keep = Environment.GetEnvironmentVariable("NL_KEEP_PLOTS");
        if (!string.IsNullOrEmpty(keep))
        {
            Directory.CreateDirectory(keep);
            foreach (var f in Directory.GetFiles(_dir)) File.Copy(f, Path.Combine(keep, Path.GetFileName(f)), true);
        }
        Directory.Delete(_dir, true);
    }

    private static readonly int[] Layers = Enumerable.Range(0, 13).ToArray();
    private static readonly (string, double[])[] Series =
    [
        ("prompt entropy", Layers.Select(l => 2 + Math.Sin(l / 3.0)).ToArray()),
        ("dataset entropy", Layers.Select(l => 1.5 + 0.1 * l).ToArray()),
    ];

    private static double[,] Similarity(int n)
    {
        var v = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) v[i, j] = Math.Exp(-Math.Abs(i - j) / 4.0) * (j >= i ? 1 : 0.5); // upper triangle brighter
        return v;
    }

    private static void AssertPng(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        Assert.True(b.Length > 1000, $"{path}: {b.Length} bytes");
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, b[..8]);
    }

    private static void AssertSvg(string path, params string[] contains)
    {
        string text = File.ReadAllText(path, Encoding.UTF8);
        Assert.Contains("<svg", text[..Math.Min(text.Length, 500)]);
        Assert.Contains("</svg>", text);
        foreach (var c in contains) Assert.Contains(c, text);
    }

    [Fact]
    public void CurvesPngAndSvg()
    {
        string png = Path.Combine(_dir, "curves.png"), svg = Path.Combine(_dir, "curves.svg");
        LayerPlots.Curves(png, "Entropy per layer", "layer", "entropy (nats)", Layers, Series);
        LayerPlots.Curves(svg, "Entropy per layer", "layer", "entropy (nats)", Layers, Series);
        AssertPng(png);
        AssertSvg(svg, "Entropy per layer", "dataset entropy", "12");
    }

    [Fact]
    public void HeatmapPngAndSvg()
    {
        string png = Path.Combine(_dir, "heat.png"), svg = Path.Combine(_dir, "heat.svg");
        var ticks = Layers.Select(l => l.ToString()).ToArray();
        LayerPlots.Heatmap(png, "CKA", "layer", "layer", Similarity(13), ticks, ticks);
        LayerPlots.Heatmap(svg, "CKA", "layer", "layer", Similarity(13), ticks, ticks);
        AssertPng(png);
        AssertSvg(svg, "CKA");
    }

    [Fact]
    public void BadPathsAreUserErrors()
    {
        var ticks = new[] { "0", "1" };
        Assert.Throws<NativeLayersException>(() =>
            LayerPlots.Curves(Path.Combine(_dir, "missing", "x.png"), "t", "x", "y", Layers, Series));
        Assert.Throws<NativeLayersException>(() =>
            LayerPlots.Curves(Path.Combine(_dir, "x.jpgx"), "t", "x", "y", Layers, Series));
        Assert.Throws<NativeLayersException>(() =>
            LayerPlots.Heatmap(Path.Combine(_dir, "missing", "x.svg"), "t", "x", "y", Similarity(2), ticks, ticks));
        Assert.Throws<NativeLayersException>(() =>
            LayerPlots.Heatmap(Path.Combine(_dir, "x.svg"), "t", "x", "y", Similarity(2), ticks, ["0"]));
        Assert.Throws<NativeLayersException>(() =>
            LayerPlots.Curves(Path.Combine(_dir, "x.svg"), "t", "x", "y", Layers, [("short", new double[3])]));
    }
}
