using System.Diagnostics;
using System.Globalization;
using System.Text;
using NativeLayers.Runtime.Serving;

namespace NativeLayers.Serving;

/// <summary>Counters, gauges and latency histograms, written in Prometheus' text exposition format.</summary>
internal sealed class ServerMetrics
{
    private static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private readonly object _lock = new();
    private readonly Dictionary<(string Path, int Status), long> _requests = new();
    private readonly Histogram _duration = new(), _firstToken = new();
    private readonly long[] _tokensPerSecond = new long[10];
    private readonly long[] _secondOf = new long[10];
    private long _promptTokens, _completionTokens;

    public void Request(string path, int status)
    {
        lock (_lock) _requests[(path, status)] = _requests.GetValueOrDefault((path, status)) + 1;
    }

    public void FirstToken(TimeSpan elapsed)
    {
        lock (_lock) _firstToken.Add(elapsed.TotalSeconds);
    }

    public void Completed(TimeSpan elapsed, int prompt, int completion)
    {
        lock (_lock)
        {
            _duration.Add(elapsed.TotalSeconds);
            _promptTokens += prompt;
            _completionTokens += completion;
        }
    }

    /// <summary>Counts tokens into one-second buckets, so the rate covers the last ten seconds.</summary>
    public void Tokens(int count)
    {
        long second = Stopwatch.GetTimestamp() / Stopwatch.Frequency;
        lock (_lock)
        {
            int slot = (int)(second % _tokensPerSecond.Length);
            if (_secondOf[slot] != second)
            {
                _secondOf[slot] = second;
                _tokensPerSecond[slot] = 0;
            }
            _tokensPerSecond[slot] += count;
        }
    }

    public string Render(EngineStatistics engine)
    {
        var text = new StringBuilder();
        void Metric(string name, string type, string help, IEnumerable<(string Labels, double Value)> values)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (var (labels, value) in values) text.Append(name).Append(labels).Append(' ').Append(Number(value)).Append('\n');
        }
        lock (_lock)
        {
            long now = Stopwatch.GetTimestamp() / Stopwatch.Frequency;
            long recent = 0;
            for (int i = 0; i < _secondOf.Length; i++)
                if (now - _secondOf[i] is > 0 and <= 10) recent += _tokensPerSecond[i];
            Metric("nl_http_requests_total", "counter", "HTTP requests by path and status.",
                _requests.OrderBy(r => r.Key).Select(r => ($"{{path=\"{r.Key.Path}\",status=\"{r.Key.Status}\"}}", (double)r.Value)));
            Metric("nl_prompt_tokens_total", "counter", "Prompt tokens of finished completions.", [("", _promptTokens)]);
            Metric("nl_generation_tokens_total", "counter", "Tokens generated for finished and streamed completions.", [("", engine.TokensGenerated)]);
            Metric("nl_generation_tokens_per_second", "gauge", "Tokens sent to clients per second over the last ten whole seconds.", [("", recent / 10.0)]);
            Metric("nl_batch_size", "gauge", "Sequences in the running decode batch.", [("", engine.Running)]);
            Metric("nl_queue_length", "gauge", "Requests waiting for a place in the batch.", [("", engine.Queued)]);
            Metric("nl_tokens_in_flight", "gauge", "Prompt plus max_tokens of running and waiting requests.", [("", engine.TokensInFlight)]);
            Metric("nl_requests_refused_total", "counter", "Requests refused because the engine was at its limits (429).", [("", engine.RequestsRefused)]);
            Metric("nl_engine_steps_total", "counter", "Forward calls of the decode loop.", [("", engine.Steps)]);
            Metric("nl_engine_step_rows_total", "counter", "Token rows run through the model by the decode loop (prefill and decode).", [("", engine.StepRows)]);
            _duration.Write(text, "nl_request_duration_seconds", "Time from a completion request to its last token.");
            _firstToken.Write(text, "nl_time_to_first_token_seconds", "Time from a completion request to its first token.");
        }
        return text.ToString();
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private sealed class Histogram
    {
        private readonly long[] _counts = new long[Buckets.Length];
        private long _count;
        private double _sum;

        public void Add(double value)
        {
            for (int i = 0; i < Buckets.Length; i++)
                if (value <= Buckets[i]) _counts[i]++;
            _count++;
            _sum += value;
        }

        public void Write(StringBuilder text, string name, string help)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            text.Append("# TYPE ").Append(name).Append(" histogram\n");
            for (int i = 0; i < Buckets.Length; i++) text.Append(name).Append("_bucket{le=\"").Append(Number(Buckets[i])).Append("\"} ").Append(_counts[i]).Append('\n');
            text.Append(name).Append("_bucket{le=\"+Inf\"} ").Append(_count).Append('\n');
            text.Append(name).Append("_sum ").Append(Number(_sum)).Append('\n');
            text.Append(name).Append("_count ").Append(_count).Append('\n');
        }
    }
}
