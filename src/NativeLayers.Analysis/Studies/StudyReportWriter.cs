using System.Net;
using System.Text;
using NativeLayers.Loading;

namespace NativeLayers.Analysis.Studies;

/// <summary>
/// Writes a study's folder: report.md (or report.html with the plots inlined), results.json and the PNGs. The folder is
/// built complete under a temporary name beside its destination and then swapped in, so a failed run leaves the old
/// report untouched and a reader never sees a mix of two runs.
/// </summary>
public static class StudyReportWriter
{
    public const string ResultsFile = "results.json";

    public static void Write(string folder, StudyReport report, StudyReportFormat format = StudyReportFormat.Markdown)
    {
        ArgumentNullException.ThrowIfNull(report);
        string target = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        if (File.Exists(target)) throw new ModelFileException(folder, "is a file, not a folder.");
        OutputPaths.PrepareFolder(Path.GetDirectoryName(target)!);
        string staging = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            Directory.CreateDirectory(staging);
            File.WriteAllText(Path.Combine(staging, ResultsFile), StudyJson.Serialize(report.Results));
            foreach (var plot in report.Plots)
            {
                if (Path.GetFileName(plot.FileName) != plot.FileName || !plot.FileName.EndsWith(".png", StringComparison.Ordinal))
                    throw new NativeLayersException($"plot '{plot.FileName}' must be a .png file name inside the report folder.");
                File.WriteAllBytes(Path.Combine(staging, plot.FileName), plot.Png);
            }
            if (format == StudyReportFormat.Html) File.WriteAllText(Path.Combine(staging, "report.html"), Html(report));
            File.WriteAllText(Path.Combine(staging, "report.md"), Markdown(report));
            Swap(staging, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(staging);
            throw new ModelFileException(folder, $"cannot write the report: {e.Message}", e);
        }
        catch
        {
            TryDelete(staging);
            throw;
        }
    }

    /// <summary>Two renames: the old folder aside, the new one in; the old one is deleted only after the new one is in place.</summary>
    private static void Swap(string staging, string target)
    {
        string? old = null;
        if (Directory.Exists(target))
        {
            old = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.old";
            Directory.Move(target, old);
        }
        try { Directory.Move(staging, target); }
        catch when (old != null)
        {
            Directory.Move(old, target);
            throw;
        }
        if (old != null) TryDelete(old);
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    public static string Markdown(StudyReport report)
    {
        var md = new StringBuilder();
        md.Append("# ").AppendLine(report.Title).AppendLine();
        md.AppendLine("## What was run").AppendLine();
        foreach (var line in report.WhatWasRun) md.Append("- ").AppendLine(line);
        md.AppendLine().AppendLine("## Settings").AppendLine();
        AppendTable(md, new StudyTable("", ["setting", "value"], report.Settings.Select(s => (IReadOnlyList<string>)[s.Name, s.Value]).ToList()));
        md.AppendLine("## Answers").AppendLine();
        foreach (var a in report.Answers) md.Append("### ").AppendLine(a.Question).AppendLine().AppendLine(a.Answer).AppendLine();
        md.AppendLine("## Results").AppendLine();
        foreach (var t in report.Tables) AppendTable(md, t);
        foreach (var p in report.Plots) md.Append("![").Append(p.Caption).Append("](").Append(p.FileName).AppendLine(")").AppendLine();
        md.AppendLine($"Every number is in [{ResultsFile}]({ResultsFile}).").AppendLine();
        if (report.Caveats.Count > 0)
        {
            md.AppendLine("## Caveats").AppendLine();
            foreach (var c in report.Caveats) md.Append("- ").AppendLine(c);
        }
        return md.ToString();
    }

    private static void AppendTable(StringBuilder md, StudyTable table)
    {
        if (table.Caption.Length > 0) md.Append("**").Append(table.Caption).AppendLine("**").AppendLine();
        md.Append("| ").AppendJoin(" | ", table.Header.Select(Cell)).AppendLine(" |");
        md.Append('|').AppendJoin("|", table.Header.Select(_ => "---")).AppendLine("|");
        foreach (var row in table.Rows) md.Append("| ").AppendJoin(" | ", row.Select(Cell)).AppendLine(" |");
        md.AppendLine();

        static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
    }

    /// <summary>One self-contained page: the same sections as report.md, the plots inlined as data URIs.</summary>
    public static string Html(StudyReport report)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var h = new StringBuilder();
        h.AppendLine("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>").Append(E(report.Title)).AppendLine("</title>")
            .AppendLine("<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}"
                + "td,th{border:1px solid #bbb;padding:.2em .6em;text-align:right}th{background:#eee}img{max-width:100%}</style></head><body>");
        h.Append("<h1>").Append(E(report.Title)).AppendLine("</h1><h2>What was run</h2><ul>");
        foreach (var line in report.WhatWasRun) h.Append("<li>").Append(E(line)).AppendLine("</li>");
        h.AppendLine("</ul><h2>Settings</h2>");
        HtmlTable(h, new StudyTable("", ["setting", "value"], report.Settings.Select(s => (IReadOnlyList<string>)[s.Name, s.Value]).ToList()));
        h.AppendLine("<h2>Answers</h2>");
        foreach (var a in report.Answers) h.Append("<h3>").Append(E(a.Question)).Append("</h3><p>").Append(E(a.Answer)).AppendLine("</p>");
        h.AppendLine("<h2>Results</h2>");
        foreach (var t in report.Tables) HtmlTable(h, t);
        foreach (var p in report.Plots)
            h.Append("<figure><img alt=\"").Append(E(p.Caption)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(p.Png))
                .Append("\"><figcaption>").Append(E(p.Caption)).AppendLine("</figcaption></figure>");
        if (report.Caveats.Count > 0)
        {
            h.AppendLine("<h2>Caveats</h2><ul>");
            foreach (var c in report.Caveats) h.Append("<li>").Append(E(c)).AppendLine("</li>");
            h.AppendLine("</ul>");
        }
        return h.AppendLine("</body></html>").ToString();

        static void HtmlTable(StringBuilder h, StudyTable t)
        {
            h.Append("<table>");
            if (t.Caption.Length > 0) h.Append("<caption>").Append(E(t.Caption)).Append("</caption>");
            h.Append("<tr>").AppendJoin("", t.Header.Select(c => $"<th>{E(c)}</th>")).AppendLine("</tr>");
            foreach (var row in t.Rows) h.Append("<tr>").AppendJoin("", row.Select(c => $"<td>{E(c)}</td>")).AppendLine("</tr>");
            h.AppendLine("</table>");
        }
    }
}
