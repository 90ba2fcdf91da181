using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Runtime.Serving;

/// <summary>
/// One sequence to continue in the running batch: its prompt, its own sampling settings, steering plan and capture
/// plan. Sampling with a seed draws what <see cref="Generation.Generator"/> draws for a single prompt with that seed.
/// </summary>
public sealed record InferenceRequest
{
    public required int[] PromptIds { get; init; }
    public int MaxTokens { get; init; } = 16;
    /// <summary>0 = greedy.</summary>
    public float Temperature { get; init; }
    /// <summary>Keep only the k most probable tokens (0 = off).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p (1 = off).</summary>
    public float TopP { get; init; } = 1f;
    public int Seed { get; init; }
    /// <summary>Tokens that end the sequence; null = the model's EOS ids.</summary>
    public IReadOnlyCollection<int>? StopTokens { get; init; }
    /// <summary>Texts that end the sequence; the text stops before them (needs the model's tokenizer).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Log-probabilities of each chosen token and of this many alternatives; null = none.</summary>
    public int? TopLogprobs { get; init; }
    public SteeringPlan? Steering { get; init; }
    /// <summary>
    /// Points to read while the sequence runs. Tokens: <see cref="TokenSelection.Last"/> is the row whose logits chose
    /// each new token (one row per token); all, prompt, generated, first and from:P select among every row the
    /// sequence passes through the model. With <see cref="Reduction.None"/> rows come with the token they led to;
    /// mean and last reduce over the whole request and come with the final token.
    /// </summary>
    public CapturePlan? Capture { get; init; }
}

/// <summary>Why a sequence ended: a stop token or stop string, or the token limit.</summary>
public enum FinishReason { Stop, Length }

/// <summary>
/// The log-probability (log softmax of the logits, before temperature and filters) of a chosen token and of the most
/// probable alternatives, highest first; Text is what each token would add to the text so far.
/// </summary>
public sealed record TokenLogprobs(string Text, float Logprob, IReadOnlyList<TopLogprob> Top);

public sealed record TopLogprob(int Id, string Text, float Logprob);

/// <summary>
/// One new token of a request: its id, the text it adds (held back while it could still begin a stop string),
/// its log-probabilities when asked, the captured rows that came with it, and on the last token why the sequence ended.
/// </summary>
public sealed record GeneratedToken(int Id, string Text, TokenLogprobs? Logprobs, IReadOnlyList<CapturedTensor> Captures, FinishReason? Finish);
