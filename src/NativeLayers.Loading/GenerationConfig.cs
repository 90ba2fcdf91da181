namespace NativeLayers.Loading;

/// <summary>The parts of <c>generation_config.json</c> the engine honours.</summary>
public sealed record GenerationConfig(int? BosTokenId, int[] EosTokenIds, int? PadTokenId)
{
    public static GenerationConfig Read(string path)
    {
        using var doc = JsonFields.ParseFile(path);
        var f = new JsonFields(path, doc.RootElement);
        return new GenerationConfig(f.OptionalInt("bos_token_id"), f.IntOrIntList("eos_token_id"), f.OptionalInt("pad_token_id"));
    }
}
