using NativeLayers.Runtime;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Generation;
using NativeLayers.Runtime.Hooks;
using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving.Tests;

/// <summary>The continuously batched engine without HTTP: the same tokens as the generator, alone or among many.</summary>
public sealed class EngineTests : IClassFixture<ModelFixture>
{
    private readonly Transformer _model;

    public EngineTests(ModelFixture fixture) => _model = fixture.Model;

    private static async Task<List<GeneratedToken>> Collect(IAsyncEnumerable<GeneratedToken> tokens)
    {
        var list = new List<GeneratedToken>();
        await foreach (var token in tokens) list.Add(token);
        return list;
    }

    [Fact]
    public async Task AGreedySteeredRequestMakesTheGeneratorsTokens()
    {
        int[] prompt = _model.Tokenizer.Encode("Once upon a time");
        var plan = new SteeringPlan().AddVector(2, Vectors.Random(_model.Width, 3), 4f);
        var expected = new Generator(_model).Generate([prompt], new GenerationOptions { MaxNewTokens = 24, Steering = plan })[0];
        using var engine = new InferenceEngine(_model);
        var tokens = await Collect(engine.Submit(new InferenceRequest { PromptIds = prompt, MaxTokens = 24, Steering = plan }));
        Assert.Equal(expected.NewIds, tokens.Select(t => t.Id));
        Assert.Equal(expected.StopReason == StopReason.MaxTokens ? FinishReason.Length : FinishReason.Stop, tokens[^1].Finish);
        Assert.Equal(_model.Tokenizer.DecodeContinuation(prompt, expected.NewIds), string.Concat(tokens.Select(t => t.Text)));
    }

    [Fact]
    public async Task ChunkedPrefillMakesTheSameTokensAndCaptures()
    {
        int[] prompt = _model.Tokenizer.Encode("Lily and Ben went to the park to play with a red ball");
        var capture = new CapturePlan { Hooks = CapturePlan.SlotHooks([0, 3]), Tokens = TokenSelection.All };
        var request = new InferenceRequest { PromptIds = prompt, MaxTokens = 8, Temperature = 0.9f, Seed = 5, Capture = capture };
        using var whole = new InferenceEngine(_model);
        using var chunked = new InferenceEngine(_model, new EngineOptions { PrefillChunkTokens = 3 });
        var a = await Collect(whole.Submit(request));
        var b = await Collect(chunked.Submit(request));
        Assert.Equal(a.Select(t => t.Id), b.Select(t => t.Id));
        var rowsA = a.SelectMany(t => t.Captures).Where(c => c.Hook == HookId.ResidPost(2)).SelectMany(c => c.Data).ToArray();
        var rowsB = b.SelectMany(t => t.Captures).Where(c => c.Hook == HookId.ResidPost(2)).SelectMany(c => c.Data).ToArray();
        Assert.Equal((prompt.Length + 7) * _model.Width, rowsA.Length);
        Assert.Equal(rowsA.Length, rowsB.Length);
        for (int i = 0; i < rowsA.Length; i++) Assert.True(Math.Abs(rowsA[i] - rowsB[i]) < 1e-5, $"value {i}");
    }

    [Fact]
    public async Task ManyRequestsWithTheirOwnSteeringAndSeedsEqualTheirSingleRuns()
    {
        string[] texts = ["Once upon a time", "Lily was", "The dog", "Tom and Sue"];
        var requests = Enumerable.Range(0, 24).Select(i => new InferenceRequest
        {
            PromptIds = _model.Tokenizer.Encode(texts[i % texts.Length]),
            MaxTokens = 6 + i % 5,
            Temperature = i % 3 == 0 ? 0 : 0.8f,
            TopK = i % 4 == 1 ? 20 : 0,
            Seed = 100 + i,
            Steering = i % 5 == 4 ? null : new SteeringPlan().AddVector(i % _model.Layers, Vectors.Random(_model.Width, i), (i % 7) - 3f),
        }).ToArray();
        using var engine = new InferenceEngine(_model, new EngineOptions { MaxBatch = 16 });
        var together = await Task.WhenAll(requests.Select(r => Collect(engine.Submit(r))));
        for (int i = 0; i < requests.Length; i++)
        {
            using var alone = new InferenceEngine(_model);
            var single = await Collect(alone.Submit(requests[i]));
            Assert.Equal(single.Select(t => t.Id), together[i].Select(t => t.Id));
        }
    }

    [Fact]
    public async Task StopStringsEndTheTextBeforeThem()
    {
        int[] prompt = _model.Tokenizer.Encode("Once upon a time");
        using var engine = new InferenceEngine(_model);
        var free = await Collect(engine.Submit(new InferenceRequest { PromptIds = prompt, MaxTokens = 40 }));
        string text = string.Concat(free.Select(t => t.Text));
        string stop = text.Substring(text.Length / 2, 3);
        var stopped = await Collect(engine.Submit(new InferenceRequest { PromptIds = prompt, MaxTokens = 40, StopStrings = [stop] }));
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], string.Concat(stopped.Select(t => t.Text)));
        Assert.Equal(FinishReason.Stop, stopped[^1].Finish);
    }

    [Fact]
    public async Task LimitsRefuseAndCancellationLeavesTheBatch()
    {
        int[] prompt = _model.Tokenizer.Encode("Once upon a time");
        using var engine = new InferenceEngine(_model, new EngineOptions { MaxTokensInFlight = 300 });
        using var cancel = new CancellationTokenSource();
        var running = engine.Submit(new InferenceRequest { PromptIds = prompt, MaxTokens = 200, StopTokens = [] }, cancel.Token);
        Assert.Throws<EngineBusyException>(() => engine.Submit(new InferenceRequest { PromptIds = prompt, MaxTokens = 200 }));
        Assert.Throws<Loading.NativeLayersException>(() => engine.Submit(new InferenceRequest { PromptIds = prompt, MaxTokens = 400 }));
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in running.WithCancellation(cancel.Token))
                if (++seen == 3) cancel.Cancel();
        });
        for (int i = 0; i < 100 && engine.Statistics.TokensInFlight > 0; i++) await Task.Delay(10);
        Assert.Equal(0, engine.Statistics.TokensInFlight);
        var after = await Collect(engine.Submit(new InferenceRequest { PromptIds = prompt, MaxTokens = 200, StopTokens = [] }));
        Assert.Equal(200, after.Count);
    }
}
