using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using NativeLayers.Analysis.Steering;
using NativeLayers.Cli;
using NativeLayers.Loading;

namespace NativeLayers.Serving.Tests;

/// <summary>The steering and capture extension fields and the vector registry, checked against the nl commands.</summary>
public sealed class ExtensionTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static string Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        Assert.True(code == 0, $"nl {string.Join(' ', args)}: {error}");
        return output.ToString();
    }

    private string VectorFile(int seed)
    {
        var set = new SteeringVectorSet(server.Model.Width);
        for (int layer = 0; layer < server.Model.Layers; layer++) set.Set(layer, Vectors.Random(server.Model.Width, seed * 31 + layer));
        string path = Path.Combine(Path.GetTempPath(), $"nl-serve-test-{Guid.NewGuid():N}.safetensors");
        SafetensorsSteeringFile.Write(path, set);
        return path;
    }

    [Fact]
    public async Task AGreedySteeredRequestReturnsTheTokensOfNlGenerateSteer()
    {
        string file = VectorFile(1);
        try
        {
            using var upload = new ByteArrayContent(await File.ReadAllBytesAsync(file));
            upload.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            var registered = await server.Http.PostAsync("/v1/steering_vectors?name=happy", upload);
            Assert.Equal(201, (int)registered.StatusCode);

            string prompt = "Once upon a time";
            string expected = Run("generate", "--model", ReferenceData.Stories260k, "--prompt", prompt, "--max-tokens", "20", "--steer", $"{file}@2*4", "--threads", "2");
            var steered = await Raw.Ok(server.Http, "/v1/completions", new
            {
                prompt, max_tokens = 20, temperature = 0, steering = new[] { new { vector = "happy", layers = new[] { 2 }, coefficient = 4 } },
            });
            Assert.Equal(expected.TrimEnd('\n'), server.Model.Tokenizer.Decode(server.Model.Tokenizer.Encode(prompt)) + (string?)steered["choices"]![0]!["text"]);
            var unsteered = await Raw.Ok(server.Http, "/v1/completions", new { prompt, max_tokens = 20, temperature = 0 });
            Assert.NotEqual((string?)unsteered["choices"]![0]!["text"], (string?)steered["choices"]![0]!["text"]);

            // The same vector inline, as floats, steers alike; a range of layers takes each layer's own vector.
            var set = SteeringVectorSet.Load(file);
            var inline = await Raw.Ok(server.Http, "/v1/completions", new
            {
                prompt, max_tokens = 20, temperature = 0, steering = new[] { new { vector = set[2].ToArray(), layers = new[] { 2 }, coefficient = 4 } },
            });
            Assert.Equal((string?)steered["choices"]![0]!["text"], (string?)inline["choices"]![0]!["text"]);
            string range = Run("generate", "--model", ReferenceData.Stories260k, "--prompt", prompt, "--max-tokens", "20", "--steer", $"{file}@1-3*-2", "--threads", "2");
            var ranged = await Raw.Ok(server.Http, "/v1/completions", new
            {
                prompt, max_tokens = 20, temperature = 0, steering = new[] { new { vector = "happy", layers = "1-3", coefficient = -2 } },
            });
            Assert.Equal(range.TrimEnd('\n'), server.Model.Tokenizer.Decode(server.Model.Tokenizer.Encode(prompt)) + (string?)ranged["choices"]![0]!["text"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task CapturedResidualsEqualNlHiddenSlots()
    {
        string prompt = "Lily and Ben";
        string file = Path.Combine(Path.GetTempPath(), $"nl-serve-hidden-{Guid.NewGuid():N}.safetensors");
        try
        {
            Run("hidden", "--model", ReferenceData.Stories260k, "--prompt", prompt, "--out", file, "--threads", "2");
            using var hidden = SafetensorsFile.Open(file);
            foreach (var format in new[] { "float-list", "base64-f32" })
            {
                var response = await Raw.Ok(server.Http, "/v1/completions", new
                {
                    prompt, max_tokens = 1, temperature = 0,
                    capture = new { points = new[] { "embed", "resid_post" }, layers = "all", positions = "all", format },
                });
                var points = response["choices"]![0]!["capture"]!["points"]!.AsObject();
                Assert.Equal(server.Model.Layers + 1, points.Count);
                for (int slot = 0; slot <= server.Model.Layers; slot++)
                {
                    var point = points[slot == 0 ? "hook_embed" : $"blocks.{slot - 1}.hook_resid_post"]!;
                    float[] values = format == "float-list"
                        ? point["data"]!.AsArray().SelectMany(row => row!.AsArray().Select(x => (float)x!)).ToArray()
                        : Floats(Convert.FromBase64String((string)point["data"]!));
                    var expected = hidden.ReadFloat32($"resid.{slot}");
                    Assert.Equal(expected.Length, values.Length);
                    for (int i = 0; i < values.Length; i++) Assert.True(Math.Abs(expected[i] - values[i]) <= 1e-5, $"slot {slot} value {i}: {expected[i]} vs {values[i]}");
                }
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static float[] Floats(byte[] bytes) => Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, i * 4)).ToArray();

    [Fact]
    public async Task CaptureOfTheLastTokenComesWithEveryChunkAndReducesWhole()
    {
        var events = await Raw.Stream(server.Http, "/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Once upon a time" } }, max_tokens = 4, temperature = 0, stream = true, ignore_eos = true,
            capture = new { points = new[] { "resid_post" }, layers = "-1", positions = "last" },
        });
        var chunks = events.Where(e => e["choices"]![0]!["capture"] != null).ToList();
        Assert.Equal(4, chunks.Count);
        Assert.All(chunks, c => Assert.Equal(1, (int)c["choices"]![0]!["capture"]!["points"]![$"blocks.{server.Model.Layers - 1}.hook_resid_post"]!["shape"]![0]!));

        var reduced = await Raw.Ok(server.Http, "/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Once upon a time" } }, max_tokens = 4, temperature = 0, ignore_eos = true,
            capture = new { points = "resid_post,attn_out", layers = "0-1", positions = "all", reduce = "mean", format = "base64-f16" },
        });
        var points = reduced["choices"]![0]!["capture"]!["points"]!.AsObject();
        Assert.Equal(4, points.Count);
        Assert.All(points, p => Assert.Equal(2 * server.Model.Width, Convert.FromBase64String((string)p.Value!["data"]!).Length));
    }

    [Fact]
    public async Task AGgufControlVectorUploadSteersLikeTheSameVectorsAsFloats()
    {
        var set = new SteeringVectorSet(server.Model.Width);
        for (int layer = 1; layer < server.Model.Layers; layer++) set.Set(layer, Vectors.Random(server.Model.Width, 70 + layer));
        using var upload = new ByteArrayContent(GgufControlVectorFile.ToBytes(set, out var warnings));
        Assert.Empty(warnings);
        upload.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var registered = await server.Http.PostAsync("/v1/steering_vectors?name=from-gguf", upload);
        Assert.Equal(201, (int)registered.StatusCode);
        var listed = JsonNode.Parse(await registered.Content.ReadAsStringAsync())!;
        Assert.Equal(Enumerable.Range(1, server.Model.Layers - 1), listed["layers"]!.AsArray().Select(l => (int)l!));

        const string prompt = "Lily was";
        var byName = await Raw.Ok(server.Http, "/v1/completions", new { prompt, max_tokens = 12, temperature = 0, steering = new[] { new { vector = "from-gguf", coefficient = 3 } } });
        var asFloats = await Raw.Ok(server.Http, "/v1/completions", new
        {
            prompt, max_tokens = 12, temperature = 0,
            steering = set.Layers.Select(layer => new { vector = set[layer].ToArray(), layers = new[] { layer }, coefficient = 3 }).ToArray(),
        });
        var plain = await Raw.Ok(server.Http, "/v1/completions", new { prompt, max_tokens = 12, temperature = 0 });
        Assert.Equal((string?)asFloats["choices"]![0]!["text"], (string?)byName["choices"]![0]!["text"]);
        Assert.NotEqual((string?)plain["choices"]![0]!["text"], (string?)byName["choices"]![0]!["text"]);
    }

    [Fact]
    public async Task SixtyFourConcurrentRequestsWithTheirOwnSteeringAndSeedsEqualTheirSingleRuns()
    {
        // 64 configurations: each its own vector(s), layers, coefficient, positions, seed and temperature; more than the
        // batch holds (32), so requests also wait, join and leave the running batch while others decode.
        string[] prompts = ["Once upon a time", "Lily was", "The dog", "Tom and Sue"];
        string[] positions = ["all", "prompt", "generated"];
        int layers = server.Model.Layers;
        var bodies = Enumerable.Range(0, 64).Select(i => new
        {
            prompt = prompts[i % prompts.Length], max_tokens = 4 + i % 5, temperature = i % 2 == 0 ? 0 : 0.9, seed = 1000 + i,
            steering = Enumerable.Range(0, 1 + i % 3).Select(k => new
            {
                vector = Vectors.Random(server.Model.Width, 500 + 8 * i + k), layers = new[] { (i + k) % layers },
                coefficient = (i % 5) - 2.0 + 0.25 * k, positions = positions[(i / 3 + k) % positions.Length],
            }).ToArray(),
        }).ToArray();

        var first = await Together();
        var second = await Together();
        for (int i = 0; i < bodies.Length; i++)
        {
            var alone = await Raw.Ok(server.Http, "/v1/completions", bodies[i]);
            string? text = (string?)alone["choices"]![0]!["text"];
            Assert.Equal(text, (string?)first[i]["choices"]![0]!["text"]);
            Assert.Equal(text, (string?)second[i]["choices"]![0]!["text"]);
        }
        // The steering matters: greedy requests with the same prompt and length but other vectors disagree.
        var sameShape = Enumerable.Range(0, 64).Where(i => i % 20 == 0).Select(i => (string?)first[i]["choices"]![0]!["text"]).ToList();
        Assert.True(sameShape.Distinct().Count() > 1, string.Join(" | ", sameShape));
        // Bounded: after two waves the engine holds nothing (no running or queued entry, no reserved KV tokens).
        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.Contains("\nnl_batch_size 0\n", metrics);
        Assert.Contains("\nnl_queue_length 0\n", metrics);
        Assert.Contains("\nnl_tokens_in_flight 0\n", metrics);

        Task<JsonNode[]> Together() => Task.WhenAll(bodies.Select(b => Raw.Ok(server.Http, "/v1/completions", b)));
    }

    [Fact]
    public async Task TheRegistryListsReplacesAndDeletes()
    {
        var http = server.Http;
        var added = await Raw.Post(http, "/v1/steering_vectors", new JsonObject { ["name"] = "any-layer", ["vector"] = new JsonArray(Vectors.Random(server.Model.Width, 9).Select(x => (JsonNode?)x).ToArray()) }.ToJsonString());
        Assert.Equal(201, added.Status);
        Assert.Equal("any", (string?)added.Body!["layers"]);
        var perLayer = new JsonObject { ["name"] = "two-layers", ["layers"] = new JsonObject { ["1"] = Json(Vectors.Random(server.Model.Width, 1)), ["3"] = Json(Vectors.Random(server.Model.Width, 3)) } };
        Assert.Equal(201, (await Raw.Post(http, "/v1/steering_vectors", perLayer.ToJsonString())).Status);
        var list = JsonNode.Parse(await http.GetStringAsync("/v1/steering_vectors"))!["data"]!.AsArray().Select(v => (string?)v!["name"]).ToList();
        Assert.Contains("any-layer", list);
        Assert.Contains("two-layers", list);

        // A registered set used without layers steers its own layers; a layer it lacks is named.
        await Raw.Ok(http, "/v1/completions", new { prompt = "Lily", max_tokens = 2, steering = new[] { new { vector = "two-layers" } } });
        var missing = await Raw.Post(http, "/v1/completions", """{"prompt": "Lily", "steering": [{"vector": "two-layers", "layers": [2]}]}""");
        Assert.Equal(400, missing.Status);
        Assert.Contains("no vector for layer 2", (string?)missing.Body!["error"]!["message"]);

        Assert.Equal(200, (int)(await http.DeleteAsync("/v1/steering_vectors/any-layer")).StatusCode);
        Assert.Equal(404, (int)(await http.DeleteAsync("/v1/steering_vectors/any-layer")).StatusCode);
        var gone = await Raw.Post(http, "/v1/completions", """{"prompt": "Lily", "steering": [{"vector": "any-layer", "layers": [0]}]}""");
        Assert.Equal(400, gone.Status);
        Assert.Equal("vector_not_found", (string?)gone.Body!["error"]!["code"]);
    }

    private static JsonArray Json(float[] values) => new(values.Select(x => (JsonNode?)x).ToArray());
}
