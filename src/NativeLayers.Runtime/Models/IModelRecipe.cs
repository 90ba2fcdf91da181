using NativeLayers.Loading;

namespace NativeLayers.Runtime.Models;

/// <summary>How one architecture family maps a config onto the generic block and its tensors onto weights.</summary>
public interface IModelRecipe
{
    IReadOnlyList<string> ModelTypes { get; }
    ArchitectureSpec Spec(ModelConfig config);
    ModelWeights Bind(WeightBinder binder, ModelConfig config);
}

public static class ModelRecipes
{
    private static readonly IModelRecipe[] All = [new LlamaFamilyRecipe()];

    public static IModelRecipe For(ModelConfig config) =>
        All.FirstOrDefault(r => r.ModelTypes.Contains(config.ModelType))
        ?? throw new ModelFileException(config.SourcePath, $"no recipe for model_type '{config.ModelType}'.");
}
