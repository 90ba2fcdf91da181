using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeLayers.Loading;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Serving;

/// <summary>How captured rows travel in a response.</summary>
internal enum CaptureFormat { FloatList, Base64F32, Base64F16 }

/// <summary>
/// The "capture" extension field: {"points": ["resid_post"], "layers": "all|A-B", "positions": "last|all|prompt|generated",
/// "reduce": "none|mean|last", "format": "float-list|base64-f32|base64-f16"}, and how captured tensors are written back.
/// </summary>
internal static class CaptureFields
{
    public static (CapturePlan Plan, CaptureFormat Format)? Parse(RequestObject? field, Transformer model, int promptTokens, int maxTokens, int choices, RequestLimits limits)
    {
        if (field is not { } capture) return null;
        string points = capture.Get("points") switch
        {
            null => "resid_post",
            { ValueKind: JsonValueKind.String } text => text.GetString()!,
            { ValueKind: JsonValueKind.Array } array => string.Join(",", array.EnumerateArray().Select(p => p.ValueKind == JsonValueKind.String
                ? p.GetString()
                : throw ApiException.BadRequest($"'{capture.Field("points")}' must hold point names, got {RequestObject.Describe(p)}.", capture.Field("points")))),
            { } other => throw capture.Wrong("points", "an array of point names", other),
        };
        var layers = SteeringFields.Layers(capture, model.Layers) ?? Enumerable.Range(0, model.Layers).ToArray();
        IReadOnlyList<HookId> hooks;
        try
        {
            hooks = CapturePlan.ParseHooks(points, string.Join(",", layers), model.Layers);
            foreach (var hook in hooks) HookId.RequireExists(hook, model.Shape, "cannot capture");
        }
        catch (NativeLayersException e)
        {
            throw ApiException.BadRequest(e.Message, capture.Field("points"));
        }
        var tokens = SteeringFields.ParsedObject(capture, "positions", TokenSelection.Parse) ?? TokenSelection.Last;
        if (tokens.Kind is TokenSelectionKind.Mask or TokenSelectionKind.Explicit)
            throw ApiException.BadRequest($"'{capture.Field("positions")}' must be last, all, prompt, generated, first, last-prompt or from:P.", capture.Field("positions"));
        var reduction = capture.String("reduce") switch
        {
            null or "none" => Reduction.None,
            "mean" => Reduction.Mean,
            "last" => Reduction.Last,
            var other => throw ApiException.BadRequest($"'{capture.Field("reduce")}' must be none, mean or last, got '{other}'.", capture.Field("reduce")),
        };
        var format = capture.String("format") switch
        {
            null or "float-list" => CaptureFormat.FloatList,
            "base64-f32" => CaptureFormat.Base64F32,
            "base64-f16" => CaptureFormat.Base64F16,
            var other => throw ApiException.BadRequest($"'{capture.Field("format")}' must be float-list, base64-f32 or base64-f16, got '{other}'.", capture.Field("format")),
        };
        long rows = reduction != Reduction.None ? 1 : tokens.Kind == TokenSelectionKind.Last ? maxTokens : promptTokens + maxTokens;
        long values = rows * hooks.Count * model.Width * choices;
        if (values > limits.MaxCaptureValues)
            throw ApiException.BadRequest($"the capture could hold up to {values} values ({rows} rows × {hooks.Count} points × width {model.Width} × {choices} choices); " +
                $"at most {limits.MaxCaptureValues} are allowed: capture fewer layers or positions, or reduce.", "capture");
        return (new CapturePlan { Hooks = hooks, Tokens = tokens, Reduction = reduction }, format);
    }

    /// <summary>Joins the tensors that came with successive tokens into one tensor per point.</summary>
    public static IReadOnlyList<CapturedTensor> Concatenate(IEnumerable<CapturedTensor> pieces) =>
        pieces.GroupBy(p => p.Hook).Select(g =>
        {
            var parts = g.ToList();
            int rows = parts.Sum(p => p.Rows);
            return new CapturedTensor(g.Key, parts.SelectMany(p => p.Data).ToArray(), rows, parts[0].Width, [rows], parts.SelectMany(p => p.RowPositions).ToArray());
        }).ToList();

    /// <summary>{"format": ..., "points": {"blocks.3.hook_resid_post": {"shape": [rows, width], "positions": [...], "data": ...}}}</summary>
    public static JsonObject Write(IReadOnlyList<CapturedTensor> tensors, CaptureFormat format)
    {
        var points = new JsonObject();
        foreach (var tensor in tensors)
            points[tensor.Hook.Name] = new JsonObject
            {
                ["shape"] = new JsonArray(tensor.Rows, tensor.Width),
                ["positions"] = new JsonArray(tensor.RowPositions.Select(p => (JsonNode?)p).ToArray()),
                ["data"] = Data(tensor, format),
            };
        return new JsonObject { ["format"] = FormatName(format), ["points"] = points };
    }

    private static JsonNode Data(CapturedTensor tensor, CaptureFormat format)
    {
        switch (format)
        {
            case CaptureFormat.FloatList:
                var rows = new JsonArray();
                for (int r = 0; r < tensor.Rows; r++) rows.Add(new JsonArray(tensor.Row(r).ToArray().Select(x => (JsonNode?)x).ToArray()));
                return rows;
            case CaptureFormat.Base64F32:
                var f32 = new byte[tensor.Data.Length * 4];
                for (int i = 0; i < tensor.Data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(f32.AsSpan(i * 4), tensor.Data[i]);
                return Convert.ToBase64String(f32);
            default:
                var f16 = new byte[tensor.Data.Length * 2];
                for (int i = 0; i < tensor.Data.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(f16.AsSpan(i * 2), (Half)tensor.Data[i]);
                return Convert.ToBase64String(f16);
        }
    }

    private static string FormatName(CaptureFormat format) => format switch
    {
        CaptureFormat.FloatList => "float-list",
        CaptureFormat.Base64F32 => "base64-f32",
        _ => "base64-f16",
    };
}
