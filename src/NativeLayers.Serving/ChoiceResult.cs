using System.Text;
using NativeLayers.Runtime.Capture;
using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving;

/// <summary>One choice's tokens gathered for a response that is not streamed.</summary>
internal sealed class ChoiceResult
{
    private readonly StringBuilder _text = new();
    private readonly List<CapturedTensor> _captures = [];

    public List<GeneratedToken> Tokens { get; } = [];
    public string Text => _text.ToString();
    public FinishReason Finish { get; private set; } = FinishReason.Length;
    public IReadOnlyList<CapturedTensor> Captures => CaptureFields.Concatenate(_captures);

    public void Add(GeneratedToken token)
    {
        Tokens.Add(token);
        _text.Append(token.Text);
        _captures.AddRange(token.Captures);
        if (token.Finish is { } finish) Finish = finish;
    }

    public static string FinishName(FinishReason? finish) => finish switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "stop",
    };
}

/// <summary>Runs the engine requests of all choices of one HTTP request and merges their tokens as they come.</summary>
internal static class ChoiceRunner
{
    /// <summary>
    /// Submits every choice before anything is written (so a refusal is still a clean 429), then yields (choice, token)
    /// pairs in the order they are made. Ending the enumeration or cancelling takes every choice out of the batch.
    /// </summary>
    public static IAsyncEnumerable<(int Choice, GeneratedToken Token)> Run(InferenceEngine engine, IReadOnlyList<InferenceRequest> requests, CancellationToken cancellation)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var streams = new List<IAsyncEnumerable<GeneratedToken>>();
        try
        {
            foreach (var request in requests) streams.Add(engine.Submit(request, stop.Token));
        }
        catch
        {
            stop.Cancel();
            stop.Dispose();
            throw;
        }
        return Merge(streams, stop);
    }

    private static async IAsyncEnumerable<(int, GeneratedToken)> Merge(List<IAsyncEnumerable<GeneratedToken>> streams, CancellationTokenSource stop)
    {
        using var owned = stop;
        if (streams.Count == 1)
        {
            await foreach (var token in streams[0].WithCancellation(stop.Token)) yield return (0, token);
            yield break;
        }
        var merged = System.Threading.Channels.Channel.CreateUnbounded<(int, GeneratedToken)>();
        var pumps = streams.Select(async (stream, choice) =>
        {
            await foreach (var token in stream.WithCancellation(stop.Token)) await merged.Writer.WriteAsync((choice, token), stop.Token);
        }).ToArray();
        _ = Task.WhenAll(pumps).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        try
        {
            await foreach (var item in merged.Reader.ReadAllAsync(stop.Token)) yield return item;
        }
        finally
        {
            stop.Cancel();
        }
    }
}
