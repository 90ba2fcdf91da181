using NativeLayers.Loading;
using ScottPlot;

namespace NativeLayers.Analysis.Plots;

/// <summary>The image formats a plot is rendered in.</summary>
public enum PlotFormat { Png, Svg }

/// <summary>One panel of <see cref="LayerPlots.Panels"/>: its title, its y-axis label and its curves.</summary>
public sealed record CurvePanel(string Title, string YLabel, IReadOnlyList<(string Label, double[] Values)> Series);

/// <summary>
/// How a heatmap maps values to colours: the colour bar's label, a fixed range where the quantity has one (CKA 0–1),
/// and a diverging map centred at 0 for signed quantities (a symmetric range around 0 unless one is given).
/// </summary>
public sealed record HeatmapScale(string Label, double? Min = null, double? Max = null, bool Diverging = false)
{
    public static HeatmapScale UnitInterval(string label) => new(label, 0, 1);
    public static HeatmapScale Signed(string label) => new(label, Diverging: true);
}

/// <summary>
/// Per-layer figures (curves and layer×layer heatmaps) rendered with ScottPlot 5, to bytes or to a file whose extension
/// gives the format: <c>.png</c> (raster, through SkiaSharp) or <c>.svg</c>. Fonts are resolved from the machine's font
/// files so text renders on headless Linux (the SkiaSharp native build used has no fontconfig).
/// </summary>
public static class LayerPlots
{
    private const int Width = 900, Height = 560, HeatmapSize = 760;

    /// <summary>The file extensions of the formats, in <see cref="PlotFormat"/> order.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".png", ".svg"];

    /// <summary>The format a plot file's extension names.</summary>
    public static PlotFormat FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => PlotFormat.Png,
        ".svg" => PlotFormat.Svg,
        var ext => throw new NativeLayersException($"plot '{path}': the extension must be .png or .svg, not '{ext}'."),
    };

    /// <summary>Writes <see cref="Curves(PlotFormat, string, string, string, IReadOnlyList{int}, IReadOnlyList{ValueTuple{string, double[]}})"/> to a file.</summary>
    public static void Curves(string path, string title, string xLabel, string yLabel,
        IReadOnlyList<int> layers, IReadOnlyList<(string Label, double[] Values)> series) =>
        Save(path, Curves(CheckPath(path), title, xLabel, yLabel, layers, series));

    /// <summary>
    /// Per-layer curves: one line (with markers) per series, x = layer numbers, titled axes and a legend.
    /// NaN values leave a gap.
    /// </summary>
    public static byte[] Curves(PlotFormat format, string title, string xLabel, string yLabel,
        IReadOnlyList<int> layers, IReadOnlyList<(string Label, double[] Values)> series) =>
        Render(CurvesPlot(title, xLabel, yLabel, layers, series), format, Width, Height);

    /// <summary>
    /// Several per-layer curve panels in one figure (two columns), each with its own y-axis, so quantities of
    /// different scales (entropies, radians, ranks; nats and probabilities) are never drawn against one axis.
    /// </summary>
    public static byte[] Panels(PlotFormat format, string xLabel, IReadOnlyList<int> layers, IReadOnlyList<CurvePanel> panels)
    {
        ArgumentNullException.ThrowIfNull(panels);
        if (panels.Count == 0) throw new NativeLayersException("a panel figure needs at least one panel.");
        if (panels.Count == 1) return Curves(format, panels[0].Title, xLabel, panels[0].YLabel, layers, panels[0].Series);
        var plots = panels.Select(p => CurvesPlot(p.Title, xLabel, p.YLabel, layers, p.Series)).ToArray();
        int columns = 2, rows = (panels.Count + 1) / 2;
        var figure = new Multiplot(plots[0]) { Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns) };
        foreach (var plot in plots.Skip(1)) figure.AddPlot(plot);
        int width = columns * 620, height = rows * 400;
        try
        {
            if (format == PlotFormat.Png) return figure.Render(width, height).GetImageBytes(ImageFormat.Png);
            using var stream = new MemoryStream();
            using (var canvas = SkiaSharp.SKSvgCanvas.Create(new SkiaSharp.SKRect(0, 0, width, height), stream))
                figure.Render(canvas, new PixelRect(0, width, height, 0));
            return stream.ToArray();
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new NativeLayersException($"cannot render the plot: {e.Message}");
        }
    }

    private static Plot CurvesPlot(string title, string xLabel, string yLabel,
        IReadOnlyList<int> layers, IReadOnlyList<(string Label, double[] Values)> series)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(series);
        if (layers.Count == 0) throw new NativeLayersException("a curves plot needs at least one layer.");
        if (series.Count == 0) throw new NativeLayersException("a curves plot needs at least one series.");

        var plot = NewPlot(title, xLabel, yLabel);
        double[] xs = layers.Select(l => (double)l).ToArray();
        foreach (var (label, values) in series)
        {
            if (values is null || values.Length != layers.Count)
                throw new NativeLayersException(
                    $"series '{label}' has {values?.Length ?? 0} values for {layers.Count} layers.");
            var scatter = plot.Add.Scatter(xs, (double[])values.Clone());
            scatter.LegendText = label;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 6;
        }
        plot.Axes.Bottom.TickGenerator = LayerTicks(layers.Select(l => ((double)l, l.ToString())).ToList());
        if (series.Count > 1 || !string.IsNullOrEmpty(series[0].Label))
        {
            plot.ShowLegend(Edge.Right); // outside the data area, so it never hides a curve
            plot.Legend.FontName = plot.Axes.Title.Label.FontName;
        }
        return plot;
    }

    /// <summary>Writes <see cref="Heatmap(PlotFormat, string, string, string, double[,], IReadOnlyList{string}, IReadOnlyList{string})"/> to a file.</summary>
    public static void Heatmap(string path, string title, string xLabel, string yLabel,
        double[,] values, IReadOnlyList<string> xTicks, IReadOnlyList<string> yTicks) =>
        Save(path, Heatmap(CheckPath(path), title, xLabel, yLabel, values, xTicks, yTicks));

    /// <summary>
    /// Heatmap of <paramref name="values"/>[row, col] (row 0 at the top), with a color bar and the given tick labels
    /// on both axes (one label per column on x, per row on y).
    /// </summary>
    public static byte[] Heatmap(PlotFormat format, string title, string xLabel, string yLabel,
        double[,] values, IReadOnlyList<string> xTicks, IReadOnlyList<string> yTicks, HeatmapScale? scale = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(xTicks);
        ArgumentNullException.ThrowIfNull(yTicks);
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rows == 0 || cols == 0) throw new NativeLayersException("a heatmap needs at least one row and one column.");
        if (xTicks.Count != cols || yTicks.Count != rows)
            throw new NativeLayersException(
                $"a {rows}×{cols} heatmap needs {cols} x tick labels and {rows} y tick labels, got {xTicks.Count} and {yTicks.Count}.");

        var plot = NewPlot(title, xLabel, yLabel);
        var heatmap = plot.Add.Heatmap((double[,])values.Clone());
        heatmap.Colormap = scale?.Diverging == true ? new ScottPlot.Colormaps.Balance() : new ScottPlot.Colormaps.Viridis();
        if (scale is not null && ColourRange(values, scale) is var (low, high)) heatmap.ManualRange = new ScottPlot.Range(low, high);
        // ScottPlot's default geometry: unit cells, cell (r, c) centred on (c, rows − 1 − r), so row 0 is at the top.
        var bar = plot.Add.ColorBar(heatmap);
        bar.Axis.TickLabelStyle.FontName = plot.Axes.Title.Label.FontName;
        if (scale is not null)
        {
            bar.Label = scale.Label;
            bar.LabelStyle.FontName = plot.Axes.Title.Label.FontName;
        }

        plot.Axes.Bottom.TickGenerator = LayerTicks(Enumerable.Range(0, cols).Select(c => ((double)c, xTicks[c])).ToList());
        plot.Axes.Left.TickGenerator = LayerTicks(Enumerable.Range(0, rows).Select(r => ((double)(rows - 1 - r), yTicks[r])).ToList());
        plot.Axes.SetLimits(-0.5, cols - 0.5, -0.5, rows - 0.5);
        plot.Axes.Margins(0, 0);
        return Render(plot, format, HeatmapSize + 120, HeatmapSize);
    }

    /// <summary>The range the colours span; a diverging scale without bounds is symmetric around 0 so 0 gets the centre colour.</summary>
    private static (double Low, double High)? ColourRange(double[,] values, HeatmapScale scale)
    {
        if (scale.Min is double min && scale.Max is double max) return (min, max);
        if (!scale.Diverging) return null;
        double extreme = values.Cast<double>().Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        if (extreme == 0) extreme = 1;
        return (scale.Min ?? -extreme, scale.Max ?? extreme);
    }

    private static PlotFormat CheckPath(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new NativeLayersException("a plot needs an output path.");
        var format = FormatOf(path);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir))
            throw new NativeLayersException($"plot '{path}': the folder '{dir}' does not exist.");
        if (Directory.Exists(path)) throw new NativeLayersException($"plot '{path}' is a folder.");
        return format;
    }

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        string font = Fonts.Name;
        var plot = new Plot();
        plot.Title(title ?? "");
        plot.XLabel(xLabel ?? "");
        plot.YLabel(yLabel ?? "");
        plot.Axes.Title.Label.FontName = font;
        foreach (var axis in plot.Axes.GetAxes())
        {
            axis.Label.FontName = font;
            axis.TickLabelStyle.FontName = font;
        }
        return plot;
    }

    /// <summary>Explicit ticks at the given positions, thinned to at most ~24 labels so long models stay readable.</summary>
    private static ScottPlot.TickGenerators.NumericManual LayerTicks(IReadOnlyList<(double Position, string Label)> ticks)
    {
        int step = Math.Max(1, (int)Math.Ceiling(ticks.Count / 24.0));
        var gen = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < ticks.Count; i++)
            if (i % step == 0 || i == ticks.Count - 1) gen.AddMajor(ticks[i].Position, ticks[i].Label);
        return gen;
    }

    private static byte[] Render(Plot plot, PlotFormat format, int width, int height)
    {
        byte[] bytes;
        try
        {
            bytes = format == PlotFormat.Png
                ? plot.GetImageBytes(width, height, ImageFormat.Png)
                : System.Text.Encoding.UTF8.GetBytes(plot.GetSvgXml(width, height));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new NativeLayersException($"cannot render the plot: {e.Message}");
        }
        return bytes.Length > 0 ? bytes : throw new NativeLayersException("cannot render the plot: the renderer produced nothing.");
    }

    private static void Save(string path, byte[] image)
    {
        try { File.WriteAllBytes(path, image); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NativeLayersException($"cannot write plot '{path}': {e.Message}");
        }
    }

    /// <summary>
    /// The font used for all text. The NoDependencies SkiaSharp build cannot query fontconfig, so a TTF file from the
    /// usual system folders is registered with ScottPlot by name (DejaVu Sans / Liberation Sans / Noto Sans first).
    /// </summary>
    private static class Fonts
    {
        public static readonly string Name = Resolve();

        private static string Resolve()
        {
            string[] preferred = ["DejaVuSans.ttf", "LiberationSans-Regular.ttf", "NotoSans-Regular.ttf", "Arial.ttf", "arial.ttf"];
            string[] roots = ["/usr/share/fonts", "/usr/local/share/fonts",
                Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".fonts"),
                "/System/Library/Fonts", "/Library/Fonts", @"C:\Windows\Fonts"];
            var found = new List<string>();
            foreach (string root in roots)
            {
                if (!Directory.Exists(root)) continue;
                try { found.AddRange(Directory.EnumerateFiles(root, "*.ttf", SearchOption.AllDirectories)); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
            string? file = preferred.Select(p => found.FirstOrDefault(f => Path.GetFileName(f) == p)).FirstOrDefault(f => f is not null)
                ?? found.FirstOrDefault();
            if (file is null) return ScottPlot.Fonts.Default; // no font files: SVG still works, PNG text may not render
            const string name = "NativeLayersPlotFont";
            try
            {
                ScottPlot.Fonts.AddFontFile(name, file, bold: false, italic: false);
                // Titles and axis labels are bold: register a bold face too (the regular one where none is found).
                string boldName = Path.GetFileNameWithoutExtension(file) + "-Bold.ttf";
                string bold = found.FirstOrDefault(f => Path.GetFileName(f) == boldName)
                    ?? found.FirstOrDefault(f => Path.GetFileName(f) == boldName.Replace("-Regular-Bold", "-Bold")) ?? file;
                ScottPlot.Fonts.AddFontFile(name, bold, bold: true, italic: false);
            }
            catch (Exception) { return ScottPlot.Fonts.Default; }
            return name;
        }
    }
}
