using NativeLayers.Loading;

namespace NativeLayers.Runtime.Hooks;

public enum PositionKind { All, Prompt, Generated, From, LastPromptToken }

/// <summary>Which positions of a sequence an operation touches (positions count from 0 at the first prompt token).</summary>
public readonly record struct Positions(PositionKind Kind, int From = 0)
{
    public static Positions All => new(PositionKind.All);
    public static Positions Prompt => new(PositionKind.Prompt);
    public static Positions Generated => new(PositionKind.Generated);
    public static Positions StartingAt(int position) => new(PositionKind.From, position);

    public bool Includes(int position, int promptLength) => Kind switch
    {
        PositionKind.All => true,
        PositionKind.Prompt => position < promptLength,
        PositionKind.Generated => position >= promptLength,
        PositionKind.From => position >= From,
        PositionKind.LastPromptToken => position == promptLength - 1,
        _ => false,
    };

    /// <summary>all | prompt | generated | last-prompt | from:P</summary>
    public static Positions Parse(string text) => text.Trim() switch
    {
        "all" => All,
        "prompt" => Prompt,
        "generated" => Generated,
        "last-prompt" => new(PositionKind.LastPromptToken),
        var t when t.StartsWith("from:") && int.TryParse(t[5..], out int p) && p >= 0 => StartingAt(p),
        _ => throw new NativeLayersException($"positions '{text}' must be all, prompt, generated, last-prompt or from:P."),
    };
}
