using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Metrics;

/// <summary>Formats a <see cref="LayerMetricsResult"/> as JSON (the requested metrics) and CSV (every number).</summary>
public static class MetricsReport
{
    /// <summary>
    /// <c>{"slots": [0..L], "metrics": {"prompt_entropy": [one value per slot], ...}}</c>: the requested metrics in the
    /// order asked, natural log, NaN written as null.
    /// </summary>
    public static string ToJson(LayerMetricsResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("slots");
            foreach (int s in result.Slots) w.WriteNumberValue(s);
            w.WriteEndArray();
            w.WriteStartObject("metrics");
            foreach (var (name, values) in result.Values)
            {
                w.WriteStartArray(name);
                foreach (double v in values)
                {
                    if (double.IsFinite(v)) w.WriteNumberValue(v);
                    else w.WriteNullValue();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>One row per slot: <c>slot</c>, then every detail column (values, normalised variants, counts); NaN as empty.</summary>
    public static string ToCsv(LayerMetricsResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var sb = new StringBuilder();
        var columns = result.Details.Keys.ToList();
        sb.Append("slot");
        foreach (var c in columns) sb.Append(',').Append(c);
        sb.Append('\n');
        for (int i = 0; i < result.Slots.Length; i++)
        {
            sb.Append(result.Slots[i].ToString(CultureInfo.InvariantCulture));
            foreach (var c in columns)
            {
                double v = result.Details[c][i];
                sb.Append(',');
                if (double.IsFinite(v)) sb.Append(v.ToString("R", CultureInfo.InvariantCulture));
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }
}

/// <summary>The y-axis label of each metric's curve.</summary>
public static class LayerMetricsUnits
{
    public static string Of(string metric) => metric switch
    {
        "prompt_entropy" or "dataset_entropy" => $"{metric} (nats)",
        "curvature" => "curvature (radians)",
        "effective_rank" or "lidar" => $"{metric} (effective rank)",
        "infonce" => "InfoNCE loss (nats)",
        "dime" => "DiME (nats)",
        _ => metric,
    };
}
