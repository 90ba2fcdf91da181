using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace NativeLayers.Loading.Hub;

/// <summary>A model on the Hugging Face Hub: its repository (ORG/NAME, or NAME such as gpt2) and a branch, tag or commit.</summary>
public sealed partial record HubModelReference
{
    public const string DefaultRevision = "main";

    public HubModelReference(string repoId, string revision = DefaultRevision)
    {
        if (!IsRepoId(repoId)) throw new NativeLayersException($"'{repoId}' is not a Hugging Face Hub repository id (NAME or ORG/NAME).");
        if (!IsRevision(revision)) throw new NativeLayersException($"'{revision}' is not a revision (a branch, tag or commit) of a Hugging Face Hub repository.");
        RepoId = repoId;
        Revision = revision;
    }

    public string RepoId { get; }
    public string Revision { get; }

    /// <summary>The revision is a full commit hash, which names a snapshot that never changes.</summary>
    public bool RevisionIsCommit => CommitHash().IsMatch(Revision);

    /// <summary>Reads NAME, ORG/NAME or either with @REVISION; false for anything else (a path such as ./m or a/b/c).</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out HubModelReference? reference)
    {
        int at = text.IndexOf('@');
        string repo = at < 0 ? text : text[..at];
        string revision = at < 0 ? DefaultRevision : text[(at + 1)..];
        reference = IsRepoId(repo) && IsRevision(revision) ? new HubModelReference(repo, revision) : null;
        return reference != null;
    }

    /// <summary>huggingface_hub's rule: one or two names of letters, digits, '_', '-' and '.', not starting or ending with '-' or '.', without "--" or "..".</summary>
    public static bool IsRepoId(string text) =>
        text.Length <= 96 && !text.Contains("--") && !text.Contains("..") && text.Split('/') is { Length: 1 or 2 } parts && parts.All(RepoName().IsMatch);

    /// <summary>A git ref or commit, which also names a file under refs/ in the cache, so nothing that could leave that folder.</summary>
    private static bool IsRevision(string text) =>
        text.Length is > 0 and <= 255 && text.Split('/').All(part => part.Length > 0 && part != "." && part != ".." && !part.Any(c => char.IsWhiteSpace(c) || c is '@' or '\\' or ':' or '\0'));

    public override string ToString() => Revision == DefaultRevision ? RepoId : $"{RepoId}@{Revision}";

    [GeneratedRegex("^[0-9a-f]{40}$")]
    internal static partial Regex CommitHash();

    [GeneratedRegex("^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")]
    private static partial Regex RepoName();
}
