using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using NativeLayers.Analysis.Steering;
using NativeLayers.Loading;

namespace NativeLayers.Serving;

/// <summary>
/// The vector registry over HTTP: POST /v1/steering_vectors (JSON floats, or a safetensors / GGUF file as the raw body
/// with ?name=), GET the list or one vector, DELETE one.
/// </summary>
internal sealed class VectorEndpoints(ServingContext context)
{
    public async Task Upload(HttpContext http)
    {
        var body = await context.ReadBody(http);
        var registry = context.Registry;
        RegisteredVector added;
        if (http.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) ?? true)
        {
            var request = RequestObject.Parse(body);
            string name = request.String("name") ?? throw ApiException.BadRequest("'name' is required.", "name");
            if (request.Get("vector") is { } vector)
                added = registry.Add(name, RequestObject.Floats(vector, "vector"));
            else if (request.Object("layers") is { } layers)
                added = registry.Add(name, PerLayer(layers), "floats");
            else throw ApiException.BadRequest("give 'vector' (floats for any layer) or 'layers' ({\"3\": [floats], ...}).", "vector");
        }
        else
        {
            string name = http.Request.Query["name"].FirstOrDefault() ?? throw ApiException.BadRequest("a file upload needs ?name=NAME.", "name");
            added = registry.Add(name, ReadFile(body), body.AsSpan().StartsWith("GGUF"u8) ? "gguf" : "safetensors");
        }
        http.Response.StatusCode = StatusCodes.Status201Created;
        await Json(http, Describe(added));
    }

    public Task List(HttpContext http) => Json(http, new JsonObject
    {
        ["object"] = "list", ["data"] = new JsonArray(context.Registry.All.Select(v => (JsonNode?)Describe(v)).ToArray()),
    });

    public Task Get(HttpContext http, string name) => context.Registry.TryGet(name, out var vector)
        ? Json(http, Describe(vector))
        : throw NotFound(name);

    public Task Delete(HttpContext http, string name) => context.Registry.Remove(name)
        ? Json(http, new JsonObject { ["object"] = "steering_vector.deleted", ["name"] = name, ["deleted"] = true })
        : throw NotFound(name);

    private static ApiException NotFound(string name) =>
        new(StatusCodes.Status404NotFound, $"there is no steering vector named '{name}'.", "name", "vector_not_found");

    private static Dictionary<int, float[]> PerLayer(RequestObject layers) => layers.Properties().ToDictionary(
        p => LayerKey(p.Name, layers.Path), p => RequestObject.Floats(p.Value, layers.Field(p.Name)));

    /// <summary>A vector file from the body: written to a private temporary file only so the file formats' readers can open it.</summary>
    private static SteeringVectorSet ReadFile(byte[] body)
    {
        string path = Path.Combine(Path.GetTempPath(), $"nl-upload-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(path, body);
            return SteeringVectorSet.Load(path);
        }
        catch (NativeLayersException e)
        {
            throw ApiException.BadRequest($"the upload is not a steering vector file (safetensors with layer.N tensors, or a GGUF control vector): {e.Message.Replace(path, "upload")}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static JsonObject Describe(RegisteredVector vector) => new()
    {
        ["object"] = "steering_vector",
        ["name"] = vector.Name,
        ["width"] = vector.Width,
        ["layers"] = vector.AnyLayer != null ? "any" : new JsonArray(vector.Layers.Select(l => (JsonNode?)l).ToArray()),
        ["source"] = vector.Source,
        ["created"] = vector.Created.ToUnixTimeSeconds(),
    };

    private static Task Json(HttpContext http, JsonObject body)
    {
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(body.ToJsonString(ServingJson.Options));
    }

    internal static int LayerKey(string key, string field) =>
        int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
            ? layer
            : throw ApiException.BadRequest($"'{field}' keys must be layer numbers, got '{key}'.", field);
}
