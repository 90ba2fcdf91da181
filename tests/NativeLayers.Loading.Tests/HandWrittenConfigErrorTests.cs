namespace NativeLayers.Loading.Tests;

/// <summary>config.json values that no reference fixture has, on configs written by hand (no ../shared needed): each
/// refused naming the file and the fields, and YaRN's factor taken from the context lengths as Hugging Face 4.51 does.</summary>
public sealed class HandWrittenConfigErrorTests : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string modelType, string extra)
    {
        string path = _temp.File($"{modelType}-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $$"""
            {"model_type": "{{modelType}}", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
             "num_hidden_layers": 2, "vocab_size": 100, "intermediate_size": 128, "rms_norm_eps": 1e-6,
             "max_position_embeddings": 4096{{extra}}}
            """);
        return path;
    }

    private static string Refused(string path)
    {
        var error = Assert.Throws<ModelFileException>(() => ConfigReader.Read(path));
        Assert.Equal(path, error.FilePath);
        return error.Problem;
    }

    [Fact]
    public void MoreExpertsPerTokenThanExpertsIsRefused()
    {
        var ok = ConfigReader.Read(Write("mixtral", ", \"num_local_experts\": 4, \"num_experts_per_tok\": 2"));
        Assert.Equal((4, 2), (ok.Experts, ok.ExpertsPerToken));
        Assert.Equal("num_experts_per_tok (5) must be at most num_local_experts (4).",
            Refused(Write("mixtral", ", \"num_local_experts\": 4, \"num_experts_per_tok\": 5")));
    }

    [Fact]
    public void DeepSeekStyleYarnIsRefusedAndTheFactorFollowsTheContextLengths()
    {
        foreach (var field in new[] { "mscale", "mscale_all_dim" })
            Assert.Equal("rope_scaling.mscale / mscale_all_dim (DeepSeek-style YaRN) are not supported.",
                Refused(Write("qwen2", $$""", "rope_scaling": {"rope_type": "yarn", "factor": 4, "{{field}}": 1}""")));
        // With original_max_position_embeddings, HF 4.51 uses max_position_embeddings / original as the factor.
        var yarn = ConfigReader.Read(Write("qwen2", """, "rope_scaling": {"rope_type": "yarn", "factor": 3, "original_max_position_embeddings": 1024, "beta_fast": 16}""")).RopeScaling!;
        Assert.Equal(("yarn", 4.0, 1024, 16.0, 1.0), (yarn.Type, yarn.Factor, yarn.OriginalMaxPositions, yarn.BetaFast, yarn.BetaSlow));
        var plain = ConfigReader.Read(Write("qwen2", """, "rope_scaling": {"type": "yarn", "factor": 2.5}""")).RopeScaling!;
        Assert.Equal((2.5, 4096), (plain.Factor, plain.OriginalMaxPositions));
        Assert.Contains("rope_scaling.factor", Refused(Write("qwen2", """, "rope_scaling": {"rope_type": "yarn"}""")));
    }
}
