using System.Text.Json;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Serving;

/// <summary>
/// The "steering" extension field: [{"vector": NAME | [floats], "layers": [..] | "A-B" | L, "coefficient": c,
/// "point": "resid_post", "positions": "all|prompt|generated|..."}, ...] as one steering plan for the request; SAE
/// entries name one of the server's SAEs: {"sae": NAME, "feature": F, "coefficient": c} adds c × the feature's
/// decoder direction at the SAE's hook, {"sae": NAME, "clamp": {"F": V, ...}, "keep_error": true} splices the SAE
/// there with those features held.
/// </summary>
internal static class SteeringFields
{
    private static readonly HashSet<HookPoint> Steerable = [HookPoint.ResidPre, HookPoint.AttnOut, HookPoint.ResidMid, HookPoint.MlpOut, HookPoint.ResidPost];

    public static SteeringPlan? Parse(JsonElement? field, Transformer model, VectorRegistry registry, RequestLimits limits,
        IReadOnlyDictionary<string, Analysis.Saes.SparseAutoencoder> saes)
    {
        if (field is not { } list) return null;
        if (list.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest($"'steering' must be an array of entries, got {RequestObject.Describe(list)}.", "steering");
        int count = list.GetArrayLength();
        if (count == 0) return null;
        if (count > limits.MaxSteeringEntries)
            throw ApiException.BadRequest($"'steering' has {count} entries; at most {limits.MaxSteeringEntries} are allowed.", "steering");
        var plan = new SteeringPlan();
        int i = 0;
        foreach (var item in list.EnumerateArray())
        {
            var entry = new RequestObject(item, $"steering[{i++}]");
            if (entry.Get("sae") != null) AddSaeEntry(plan, entry, model, saes);
            else AddEntry(plan, entry, model, registry);
        }
        try
        {
            plan.Validate(model.Shape);
        }
        catch (NativeLayersException e)
        {
            throw ApiException.BadRequest(e.Message, "steering");
        }
        return plan;
    }

    private static void AddEntry(SteeringPlan plan, RequestObject entry, Transformer model, VectorRegistry registry)
    {
        var point = Parsed(entry, "point", HookId.ParsePoint) ?? HookPoint.ResidPost;
        if (!Steerable.Contains(point))
            throw ApiException.BadRequest($"'{entry.Field("point")}' must be one of {string.Join(", ", Steerable.Select(HookId.ShortName))}.", entry.Field("point"));
        var tokens = ParsedObject(entry, "positions", TokenSelection.Parse) ?? TokenSelection.All;
        float coefficient = entry.Float("coefficient", -1e6, 1e6) ?? 1f;
        int[]? explicitLayers = Layers(entry, model.Layers);
        var (vectorFor, named) = Vectors(entry, registry, model.Width);
        int[] layers = explicitLayers ?? named?.Layers.ToArray()
            ?? throw ApiException.BadRequest($"'{entry.Field("layers")}' is required for an inline vector or one registered for any layer.", entry.Field("layers"));
        foreach (int layer in layers)
        {
            var vector = vectorFor(layer) ?? throw ApiException.BadRequest(
                $"vector '{named!.Name}' has no vector for layer {layer} (it has layers {string.Join(", ", named.Layers)}).", entry.Field("layers"));
            plan.AddVector(layer, vector, coefficient, point, tokens);
        }
    }

    private static void AddSaeEntry(SteeringPlan plan, RequestObject entry, Transformer model, IReadOnlyDictionary<string, Analysis.Saes.SparseAutoencoder> saes)
    {
        string name = entry.String("sae") ?? throw ApiException.BadRequest($"'{entry.Field("sae")}' must be the name of one of the server's SAEs.", entry.Field("sae"));
        if (!saes.TryGetValue(name, out var sae))
            throw new ApiException(400, $"there is no SAE named '{name}'" + (saes.Count == 0 ? "; the server was started without --sae." : $" (the server has {string.Join(", ", saes.Keys)})."),
                entry.Field("sae"), "sae_not_found");
        var hook = HookId.Parse(sae.HookName, model.Layers);
        var tokens = ParsedObject(entry, "positions", TokenSelection.Parse) ?? TokenSelection.All;
        if (entry.Int("feature", 0, sae.Features - 1) is { } feature)
        {
            plan.Add(new AddVector(hook, sae.Direction(feature).ToArray(), entry.Float("coefficient", -1e6, 1e6) ?? 1f, tokens));
            return;
        }
        var clamps = new List<Analysis.Saes.FeatureClamp>();
        if (entry.Object("clamp") is { } clamp)
            foreach (var property in clamp.Properties())
            {
                string field = clamp.Field(property.Name);
                if (!int.TryParse(property.Name, out int f) || f < 0 || f >= sae.Features)
                    throw ApiException.BadRequest($"'{field}': features of '{name}' are 0..{sae.Features - 1}.", field);
                if (property.Value.ValueKind != JsonValueKind.Number || !float.IsFinite(property.Value.GetSingle()))
                    throw ApiException.BadRequest($"'{field}' must be a finite number.", field);
                clamps.Add(new Analysis.Saes.FeatureClamp(f, property.Value.GetSingle()));
            }
        plan.Transform(hook, new Analysis.Saes.SaeSplice(sae, entry.Bool("keep_error") ?? true, clamps), tokens);
    }

    private static (Func<int, float[]?> For, RegisteredVector? Named) Vectors(RequestObject entry, VectorRegistry registry, int width)
    {
        string field = entry.Field("vector");
        switch (entry.Get("vector"))
        {
            case { ValueKind: JsonValueKind.String } name:
                if (!registry.TryGet(name.GetString()!, out var registered))
                    throw new ApiException(400, $"there is no steering vector named '{name.GetString()}'; register it with POST /v1/steering_vectors.", field, "vector_not_found");
                return (registered.For, registered);
            case { ValueKind: JsonValueKind.Array } array:
                var values = RequestObject.Floats(array, field);
                if (values.Length != width) throw ApiException.BadRequest($"'{field}' has {values.Length} values, but the model's width is {width}.", field);
                return (_ => values, null);
            case { } other:
                throw entry.Wrong("vector", "a registered vector's name or an array of numbers", other);
            default:
                throw ApiException.BadRequest($"'{field}' is required.", field);
        }
    }

    /// <summary>"layers": 3, [1, 2], "1-4", "0-3,-1" or "all".</summary>
    public static int[]? Layers(RequestObject entry, int modelLayers)
    {
        string field = entry.Field("layers");
        try
        {
            return entry.Get("layers") switch
            {
                null => null,
                { ValueKind: JsonValueKind.String } text => LayerSelection.Parse(text.GetString()!, modelLayers),
                { ValueKind: JsonValueKind.Number } one => [HookId.ResolveLayer(one.TryGetInt32(out int l) ? l : int.MaxValue, modelLayers, field)],
                { ValueKind: JsonValueKind.Array } array => array.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int l)
                    ? HookId.ResolveLayer(l, modelLayers, field)
                    : throw ApiException.BadRequest($"'{field}' must hold layer numbers, got {RequestObject.Describe(x)}.", field)).Distinct().Order().ToArray(),
                { } other => throw entry.Wrong("layers", "a layer number, an array of them or a range such as \"2-5\"", other),
            };
        }
        catch (NativeLayersException e)
        {
            throw ApiException.BadRequest(e.Message, field);
        }
    }

    /// <summary>A string field parsed by the runtime's own parser, its error becoming a 400 on that field.</summary>
    public static T? Parsed<T>(RequestObject entry, string name, Func<string, T> parse) where T : struct
    {
        if (entry.String(name) is not { } text) return null;
        try
        {
            return parse(text);
        }
        catch (NativeLayersException e)
        {
            throw ApiException.BadRequest(e.Message, entry.Field(name));
        }
    }

    public static T? ParsedObject<T>(RequestObject entry, string name, Func<string, T> parse) where T : class
    {
        if (entry.String(name) is not { } text) return null;
        try
        {
            return parse(text);
        }
        catch (NativeLayersException e)
        {
            throw ApiException.BadRequest(e.Message, entry.Field(name));
        }
    }
}
