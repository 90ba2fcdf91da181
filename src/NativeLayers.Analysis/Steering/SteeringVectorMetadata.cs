namespace NativeLayers.Analysis.Steering;

/// <summary>
/// Descriptive metadata of a <see cref="SteeringVectorSet"/>. All fields are optional strings so that files written by
/// other tools load; <see cref="Method"/> normally holds a <see cref="Vectors.SteeringMethod"/> name,
/// <see cref="Position"/> the read position (<see cref="Vectors.ContrastiveExtraction.MetadataName"/>), and <see cref="HookPoint"/> the residual point the
/// vectors were read from and are added to (<see cref="ResidPost"/>: block k's output, R[k+1]).
/// </summary>
public sealed record SteeringVectorMetadata
{
    public const string ResidPost = "resid_post";

    public string? ModelName { get; init; }
    /// <summary>The Hugging Face <c>model_type</c> (GGUF: <c>controlvector.model_hint</c>), e.g. "mistral".</summary>
    public string? ModelType { get; init; }
    public string? Method { get; init; }
    public string? Position { get; init; }
    public string? HookPoint { get; init; }
    /// <summary>Further free-form string metadata, kept through both file formats.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    public bool Equals(SteeringVectorMetadata? other) =>
        other is not null && ModelName == other.ModelName && ModelType == other.ModelType && Method == other.Method
        && Position == other.Position && HookPoint == other.HookPoint
        && Extra.Count == other.Extra.Count
        && Extra.All(kv => other.Extra.TryGetValue(kv.Key, out var v) && v == kv.Value);

    public override int GetHashCode() => HashCode.Combine(ModelName, ModelType, Method, Position, HookPoint, Extra.Count);
}
