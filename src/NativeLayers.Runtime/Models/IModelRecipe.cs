using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>How one architecture family maps a config onto the generic block and its tensors onto weights.</summary>
public interface IModelRecipe
{
    IReadOnlyList<string> ModelTypes { get; }
    ArchitectureSpec Spec(ModelConfig config);
    /// <summary>Name prefixes to try, in order (checkpoints are saved with and without the base-model prefix).</summary>
    IReadOnlyList<string> NamePrefixes => [""];
    /// <summary>Tensors this family's checkpoints carry for heads the runtime does not run (patterns as <see cref="WeightBinder.Unused"/> takes).</summary>
    IReadOnlyList<string> IgnorableTensors => [];
    ModelWeights Bind(WeightBinder binder, ModelConfig config);
}

public static class ModelRecipes
{
    private static readonly IModelRecipe[] All = [new LlamaFamilyRecipe(), new Gpt2Recipe(), new GptNeoxRecipe(), new BertRecipe(), new MambaRecipe()];

    public static IModelRecipe For(ModelConfig config) =>
        All.FirstOrDefault(r => r.ModelTypes.Contains(config.ModelType))
        ?? throw new ModelFileException(config.SourcePath, $"no recipe for model_type '{config.ModelType}'.");
}
