using System.CommandLine;
using System.Diagnostics;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Cli;

/// <summary>
/// The one prompt a command runs, given as --prompt TEXT, --prompt-file FILE (the whole file is the prompt: long inputs)
/// or --ids 1,2,3; and --allow-overflow-context for prompts past the model's context.
/// </summary>
public sealed class PromptOptions
{
    public Option<string?> Prompt { get; } = new("--prompt", "-p") { Description = "Prompt text (encoded with the model's tokenizer)." };
    public Option<string?> PromptFile { get; } = new("--prompt-file") { Description = "A file whose whole text (UTF-8) is the prompt; for long inputs." };
    public Option<string?> Ids { get; } = new("--ids") { Description = "Prompt as comma-separated token ids (for models without a tokenizer)." };
    public Option<EncodingErrors> EncodingErrors { get; } = CommonOptions.EncodingErrors();
    public Option<bool> AllowOverflowContext { get; } = new("--allow-overflow-context")
    {
        Description = "Run positions past the model's context (max_position_embeddings; RoPE models only) instead of stopping with an error.",
    };

    public IEnumerable<Option> All => [Prompt, PromptFile, Ids, EncodingErrors, AllowOverflowContext];

    /// <summary>The prompt's token ids; exactly one of the three sources must be given.</summary>
    public int[] Read(ParseResult parse, Transformer model)
    {
        string? text = parse.GetValue(Prompt), file = parse.GetValue(PromptFile), ids = parse.GetValue(Ids);
        if (new[] { text, file, ids }.Count(v => v != null) != 1)
            throw new NativeLayersException("give exactly one of --prompt TEXT, --prompt-file FILE or --ids 1,2,3.");
        if (file != null) text = TextFiles.ReadAll(file, "--prompt-file", parse.GetValue(EncodingErrors));
        return CommonOptions.PromptIds(model, text, ids);
    }

    /// <summary>Forward options for the prompt: context overflow as asked, and per-block progress on stderr once a forward takes over a second.</summary>
    public ForwardOptions Forward(ParseResult parse) => new()
    {
        AllowContextOverflow = parse.GetValue(AllowOverflowContext),
        LayerProgress = new SlowForwardProgress(parse.InvocationConfiguration.Error),
    };

    /// <summary>Reports blocks done only when a forward has run for more than a second, so short ones print nothing.</summary>
    private sealed class SlowForwardProgress(TextWriter error) : IProgress<(int Done, int Total)>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public void Report((int Done, int Total) value)
        {
            if (_clock.Elapsed < TimeSpan.FromSeconds(1)) return;
            error.WriteLine($"forward: block {value.Done}/{value.Total} done ({_clock.Elapsed.TotalSeconds:F1} s)");
        }
    }
}
