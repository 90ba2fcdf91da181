using System.Text.Json.Nodes;
using NativeLayers.Analysis.Saes;
using NativeLayers.Runtime;

namespace NativeLayers.Serving.Tests;

/// <summary>SAE feature steering and conditional (CAST) steering as request fields, against their plain-vector equivalents.</summary>
public sealed class SaeAndConditionTests : IAsyncLifetime
{
    private Transformer _model = null!;
    private OpenAiServer _server = null!;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private SparseAutoencoder _sae = null!;
    private const string Prompt = "Once upon a time";

    public async Task InitializeAsync()
    {
        _model = Transformer.Load(ReferenceData.Stories260k, new RuntimeOptions { Threads = 2 });
        int d = _model.Width, features = 2 * d;
        var wEnc = new float[d * features];
        var wDec = new float[features * d];
        for (int i = 0; i < d; i++)
        {
            wEnc[i * features + i] = 1;
            wEnc[i * features + d + i] = -1;
            wDec[i * d + i] = 1;
            wDec[(d + i) * d + i] = -1;
        }
        _sae = new SparseAutoencoder(new SaeHeader("test", "test", "blocks.2.hook_resid_post", SaeArchitecture.Standard, d, features),
            wEnc, new float[features], wDec, new float[d]);
        _server = await OpenAiServer.StartAsync(_model, new ServerOptions { Port = 0, ModelName = "stories260k", Saes = new Dictionary<string, SparseAutoencoder> { ["exact"] = _sae } });
        _http.BaseAddress = new Uri(_server.Url);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        _model.Dispose();
    }

    private async Task<string> Text(object body) => (string)(await Raw.Ok(_http, "/v1/completions", body))["choices"]![0]!["text"]!;

    [Fact]
    public async Task AFeatureSteersAsItsDecoderDirectionAndAKeepErrorSpliceChangesNothing()
    {
        string plain = await Text(new { prompt = Prompt, max_tokens = 16, temperature = 0 });
        string byFeature = await Text(new { prompt = Prompt, max_tokens = 16, temperature = 0, steering = new object[] { new { sae = "exact", feature = 5, coefficient = 8 } } });
        string byVector = await Text(new
        {
            prompt = Prompt, max_tokens = 16, temperature = 0,
            steering = new object[] { new { vector = _sae.Direction(5).ToArray(), layers = new[] { 2 }, coefficient = 8 } },
        });
        Assert.Equal(byVector, byFeature);
        Assert.NotEqual(plain, byFeature);
        string spliced = await Text(new { prompt = Prompt, max_tokens = 16, temperature = 0, steering = new object[] { new { sae = "exact", keep_error = false } } });
        Assert.Equal(plain, spliced); // an exact SAE's reconstruction is the stream itself

        var (status, json, _) = await Raw.Post(_http, "/v1/completions", """{"prompt": "Hi", "steering": [{"sae": "nope", "feature": 1}]}""");
        Assert.Equal(400, status);
        Assert.Equal("sae_not_found", (string?)json!["error"]!["code"]);
    }

    [Fact]
    public async Task AConditionThatNeverOrAlwaysHoldsGivesTheUnsteeredOrSteeredText()
    {
        var vector = Enumerable.Range(0, _model.Width).Select(i => (float)Math.Sin(i)).ToArray();
        var steering = new object[] { new { vector, layers = new[] { 1 }, coefficient = 6 } };
        string plain = await Text(new { prompt = Prompt, max_tokens = 16, temperature = 0 });
        string steered = await Text(new { prompt = Prompt, max_tokens = 16, temperature = 0, steering });
        Assert.NotEqual(plain, steered);
        string never = await Text(new { prompt = Prompt, max_tokens = 16, temperature = 0, steering, condition = new { vector, layer = 1, threshold = 1 } });
        string always = await Text(new { prompt = Prompt, max_tokens = 16, temperature = 0, steering, condition = new { vector, layer = 1, threshold = -1 } });
        Assert.Equal(plain, never);
        Assert.Equal(steered, always);
        var (status, _, _) = await Raw.Post(_http, "/v1/completions", """{"prompt": "Hi", "condition": {"vector": [1], "layer": 1, "threshold": 0}}""");
        Assert.Equal(400, status);
    }
}
