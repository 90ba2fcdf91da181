using System.CommandLine;
using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Cli;

/// <summary>
/// The conditional-steering options of `nl generate` (CAST): --condition FILE@K reads tensor layer.K of FILE as the
/// condition direction and compares it with the prompt's residual after block K; --threshold T and
/// --condition-compare decide when it holds; only prompts whose condition holds are steered.
/// </summary>
public sealed class ConditionOptions
{
    public Option<string?> Condition { get; } = new("--condition")
    {
        Description = "Steer only prompts that meet a condition: FILE@K compares tensor 'layer.K' of FILE with the prompt's residual after block K " +
            "(cos(h, tanh(P h)), P the projection on the vector; IBM activation-steering's rule).",
        HelpName = "FILE@K",
    };
    public Option<double?> Threshold { get; } = new("--threshold") { Description = "The condition's similarity threshold (needed with --condition)." };
    public Option<string> Compare { get; } = new("--condition-compare")
    {
        Description = "greater: steer when the similarity exceeds the threshold; less: when it is below.",
        DefaultValueFactory = _ => "greater",
    };
    public Option<string> Reduce { get; } = new("--condition-reduce")
    {
        Description = "The prompt's rows the condition reads: mean (of all tokens) or last.",
        DefaultValueFactory = _ => "mean",
    };

    public IEnumerable<Option> All => [Condition, Threshold, Compare, Reduce];

    public static ConditionReduction ParseReduction(string text, string option) => text switch
    {
        "mean" => ConditionReduction.Mean,
        "last" => ConditionReduction.Last,
        _ => throw new NativeLayersException($"{option} must be mean or last, got '{text}'."),
    };

    /// <summary>The condition asked for, or null; checked against the model and the steering it gates.</summary>
    public SteeringCondition? Read(ParseResult parse, Transformer model, SteeringPlan? steering)
    {
        if (parse.GetValue(Condition) is not { } spec)
        {
            if (parse.GetValue(Threshold) != null) throw new NativeLayersException("--threshold needs --condition FILE@K.");
            return null;
        }
        if (steering == null) throw new NativeLayersException("--condition gates steering: give --steer FILE@L*C too.");
        double threshold = parse.GetValue(Threshold) ?? throw new NativeLayersException("--condition needs --threshold T.");
        int at = spec.LastIndexOf('@');
        if (at <= 0) throw new NativeLayersException($"--condition '{spec}' must look like FILE@LAYER, e.g. condition.safetensors@4.");
        string file = spec[..at];
        int layer = CommonOptions.Index(int.TryParse(spec[(at + 1)..], out int l) ? l : throw new NativeLayersException($"--condition '{spec}': '{spec[(at + 1)..]}' is not a layer number."),
            model.Layers, "--condition", "blocks");
        var vectors = SteeringVectorSet.Load(file);
        if (!vectors.TryGet(layer, out var vector))
            throw new NativeLayersException($"--condition {spec}: {file} has no vector for layer {layer} (it has layers {string.Join(", ", vectors.Layers)}).");
        var compare = parse.GetValue(Compare) switch
        {
            "greater" => ConditionComparison.Greater,
            "less" => ConditionComparison.Less,
            var other => throw new NativeLayersException($"--condition-compare must be greater or less, got '{other}'."),
        };
        return new SteeringCondition(vector.ToArray(), layer, threshold, compare, ParseReduction(parse.GetValue(Reduce)!, "--condition-reduce"));
    }
}
