using System.Text.Json;
using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Serving;

/// <summary>
/// The "condition" extension field (CAST): {"vector": NAME | [floats], "layer": K, "threshold": T, "compare":
/// "greater"|"less", "reduce": "mean"|"last"}; the request's steering reaches only the prompts whose residual after
/// block K meets it (the rule of nl generate --condition).
/// </summary>
internal static class ConditionField
{
    public static SteeringCondition? Parse(RequestObject? field, ServingContext context, SteeringPlan? steering)
    {
        if (field is not { } c) return null;
        if (steering == null) throw ApiException.BadRequest("'condition' gates the request's 'steering'; give that too.", "condition");
        var model = context.Model;
        int layer = c.Int("layer", -model.Layers, model.Layers - 1) is { } l ? (l < 0 ? model.Layers + l : l)
            : throw ApiException.BadRequest($"'{c.Field("layer")}' (the block whose output the condition reads) is required.", c.Field("layer"));
        double threshold = c.Float("threshold", -1, 1) ?? throw ApiException.BadRequest($"'{c.Field("threshold")}' (in [-1, 1]) is required.", c.Field("threshold"));
        float[] vector = c.Get("vector") switch
        {
            { ValueKind: JsonValueKind.String } name => context.Registry.TryGet(name.GetString()!, out var registered)
                ? registered.For(layer) ?? throw ApiException.BadRequest($"vector '{registered.Name}' has no vector for layer {layer}.", c.Field("vector"))
                : throw new ApiException(400, $"there is no steering vector named '{name.GetString()}'; register it with POST /v1/steering_vectors.", c.Field("vector"), "vector_not_found"),
            { ValueKind: JsonValueKind.Array } array => RequestObject.Floats(array, c.Field("vector")),
            { } other => throw c.Wrong("vector", "a registered vector's name or an array of numbers", other),
            null => throw ApiException.BadRequest($"'{c.Field("vector")}' is required.", c.Field("vector")),
        };
        if (vector.Length != model.Width) throw ApiException.BadRequest($"'{c.Field("vector")}' has {vector.Length} values, but the model's width is {model.Width}.", c.Field("vector"));
        var compare = c.String("compare") switch
        {
            null or "greater" => ConditionComparison.Greater,
            "less" => ConditionComparison.Less,
            var other => throw ApiException.BadRequest($"'{c.Field("compare")}' must be greater or less, got '{other}'.", c.Field("compare")),
        };
        var reduce = c.String("reduce") switch
        {
            null or "mean" => ConditionReduction.Mean,
            "last" => ConditionReduction.Last,
            var other => throw ApiException.BadRequest($"'{c.Field("reduce")}' must be mean or last, got '{other}'.", c.Field("reduce")),
        };
        return new SteeringCondition(vector, layer, threshold, compare, reduce);
    }
}
