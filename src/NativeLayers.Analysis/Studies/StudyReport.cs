namespace NativeLayers.Analysis.Studies;

/// <summary>A table of the report: a caption, a header and rows of already formatted cells.</summary>
public sealed record StudyTable(string Caption, IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>A figure of the report: the PNG's file name inside the report folder, its caption and its bytes.</summary>
public sealed record StudyPlot(string FileName, string Caption, byte[] Png);

/// <summary>One question the study answers, with the answer as one paragraph of measured numbers.</summary>
public sealed record StudyAnswer(string Question, string Answer);

/// <summary>
/// Everything a study hands to <see cref="StudyReportWriter"/>: the prose of report.md (what was run, the settings, the
/// answers, the caveats), its tables and plots, and <see cref="Results"/>, the object serialised as results.json.
/// </summary>
public sealed record StudyReport
{
    /// <summary>The study's command name (layer-quality, stitch, ...).</summary>
    public required string Study { get; init; }
    public required string Title { get; init; }
    public required IReadOnlyList<string> WhatWasRun { get; init; }
    public required IReadOnlyList<(string Name, string Value)> Settings { get; init; }
    public required IReadOnlyList<StudyAnswer> Answers { get; init; }
    public IReadOnlyList<StudyTable> Tables { get; init; } = [];
    public IReadOnlyList<StudyPlot> Plots { get; init; } = [];
    public IReadOnlyList<string> Caveats { get; init; } = [];
    /// <summary>Every number and setting; non-finite doubles are written as null.</summary>
    public required object Results { get; init; }
}

/// <summary>What the report folder holds besides results.json and the plots.</summary>
public enum StudyReportFormat { Markdown, Html }
