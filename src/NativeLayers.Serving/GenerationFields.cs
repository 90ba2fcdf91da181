using System.Text.Json;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;
using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving;

/// <summary>What both completion endpoints ask of the engine: sampling, stops, choices, log-probabilities, streaming, steering, capture.</summary>
internal sealed record GenerationSettings(int MaxTokens, float Temperature, float TopP, int TopK, int Seed, IReadOnlyList<string> Stop, int N,
    int? TopLogprobs, bool Stream, bool IncludeUsage, bool IgnoreEos, SteeringPlan? Steering, CapturePlan? Capture, CaptureFormat CaptureFormat)
{
    /// <summary>With a "condition" (CAST): the prompts whose condition holds, the only ones the steering reaches; null = every prompt.</summary>
    public IReadOnlySet<int[]>? SteeredPrompts { get; init; }

    /// <summary>The engine request of choice <paramref name="choice"/> of a prompt: seeds count up from the request's seed, as a batch of prompts does in the generator.</summary>
    public InferenceRequest Request(int[] prompt, int choice) => new()
    {
        PromptIds = prompt, MaxTokens = MaxTokens, Temperature = Temperature, TopP = TopP, TopK = TopK, Seed = unchecked(Seed + choice),
        StopStrings = Stop, StopTokens = IgnoreEos ? [] : null, TopLogprobs = TopLogprobs,
        Steering = SteeredPrompts == null || SteeredPrompts.Contains(prompt) ? Steering : null, Capture = Capture,
    };

    public static GenerationSettings Parse(RequestObject body, ServingContext context, IReadOnlyList<int[]> prompts, bool chat)
    {
        var limits = context.Options.Limits;
        int longest = prompts.Max(p => p.Length);
        if (longest > limits.MaxPromptTokens)
            throw ApiException.BadRequest($"the prompt has {longest} tokens; at most {limits.MaxPromptTokens} are allowed.", chat ? "messages" : "prompt");
        int room = context.Model.Config.MaxPositions - longest;
        if (room < 1)
            throw ApiException.BadRequest($"the prompt has {longest} tokens, which fills the model's {context.Model.Config.MaxPositions} positions.", chat ? "messages" : "prompt");
        int? asked = (chat ? body.Int("max_completion_tokens", 1, int.MaxValue) : null) ?? body.Int("max_tokens", 1, int.MaxValue);
        if (asked > limits.MaxTokens) throw ApiException.BadRequest($"'max_tokens' is {asked}; at most {limits.MaxTokens} are allowed.", "max_tokens");
        if (asked > room)
            throw ApiException.BadRequest($"the prompt ({longest} tokens) plus max_tokens {asked} is past the model's {context.Model.Config.MaxPositions} positions.", "max_tokens");
        int maxTokens = asked ?? Math.Min(chat ? limits.MaxTokens : 16, room);

        int n = body.Int("n", 1, limits.MaxChoices) ?? 1;
        if (n * prompts.Count > limits.MaxChoices)
            throw ApiException.BadRequest($"{prompts.Count} prompts × n = {n} is {n * prompts.Count} choices; at most {limits.MaxChoices} are allowed.", "n");
        foreach (var unsupported in new[] { "presence_penalty", "frequency_penalty", "repetition_penalty" })
            if (body.Float(unsupported, -2, 2) is { } penalty && penalty != 0)
                throw ApiException.BadRequest($"'{unsupported}' is not supported; leave it out or 0.", unsupported);
        if (body.Get("logit_bias") is { ValueKind: JsonValueKind.Object } bias && bias.EnumerateObject().Any())
            throw ApiException.BadRequest("'logit_bias' is not supported.", "logit_bias");
        if (!chat && body.Bool("echo") == true) throw ApiException.BadRequest("'echo' is not supported.", "echo");
        if (!chat && body.String("suffix") is { Length: > 0 }) throw ApiException.BadRequest("'suffix' is not supported.", "suffix");

        int? topLogprobs = chat
            ? body.Bool("logprobs") == true ? body.Int("top_logprobs", 0, limits.MaxTopLogprobs) ?? 0 : null
            : body.Int("logprobs", 0, Math.Min(5, limits.MaxTopLogprobs));
        if (chat && topLogprobs == null && body.Int("top_logprobs", 0, limits.MaxTopLogprobs) is > 0)
            throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true.", "top_logprobs");

        int topK = body.Int("top_k", -1, int.MaxValue) ?? 0;
        var capture = CaptureFields.Parse(body.Object("capture"), context.Model, longest, maxTokens, n * prompts.Count, limits);
        var steering = SteeringFields.Parse(body.Get("steering"), context.Model, context.Registry, limits, context.Options.Saes);
        var condition = ConditionField.Parse(body.Object("condition"), context, steering);
        return new GenerationSettings(
            maxTokens,
            body.Float("temperature", 0, 2) ?? 1f,
            body.Float("top_p", 1e-9, 1) ?? 1f,
            Math.Max(topK, 0),
            body.Int("seed", long.MinValue, long.MaxValue) is { } seed ? seed : Random.Shared.Next(),
            Stops(body, limits),
            n,
            topLogprobs,
            body.Bool("stream") ?? false,
            body.Object("stream_options")?.Bool("include_usage") ?? false,
            body.Bool("ignore_eos") ?? false,
            steering,
            capture?.Plan,
            capture?.Format ?? CaptureFormat.FloatList)
        {
            SteeredPrompts = condition == null ? null
                : prompts.Zip(condition.Similarities(context.Model, prompts)).Where(p => condition.Holds(p.Second)).Select(p => p.First)
                    .ToHashSet<int[]>(ReferenceEqualityComparer.Instance),
        };
    }

    private static IReadOnlyList<string> Stops(RequestObject body, RequestLimits limits)
    {
        var stops = body.Get("stop") switch
        {
            null => [],
            { ValueKind: JsonValueKind.String } one => [one.GetString()!],
            { ValueKind: JsonValueKind.Array } many => many.EnumerateArray().Select(s => s.ValueKind == JsonValueKind.String
                ? s.GetString()!
                : throw ApiException.BadRequest($"'stop' must hold strings, got {RequestObject.Describe(s)}.", "stop")).ToList(),
            { } other => throw body.Wrong("stop", "a string or an array of strings", other),
        };
        if (stops.Count > limits.MaxStopStrings) throw ApiException.BadRequest($"'stop' has {stops.Count} strings; at most {limits.MaxStopStrings} are allowed.", "stop");
        if (stops.Any(s => s.Length == 0)) throw ApiException.BadRequest("'stop' strings must not be empty.", "stop");
        return stops;
    }
}
