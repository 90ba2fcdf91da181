using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using NativeLayers.Analysis.Plots;
using NativeLayers.Loading;
using NativeLayers.Loading.Hub;
using NativeLayers.Runtime;
using NativeLayers.Runtime.Hooks;

namespace NativeLayers.Cli;

/// <summary>Options several commands share, and their parsing into runtime objects.</summary>
public static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Hugging Face model folder (config.json + *.safetensors [+ tokenizer files]), or a model on the Hugging Face Hub as " +
            "ORG/NAME or ORG/NAME@REVISION (downloaded once into huggingface_hub's cache, $HF_HUB_CACHE or ~/.cache/huggingface/hub; " +
            "HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE=1 as in huggingface_hub). Default: the built-in stories260k (a 260k-parameter " +
            "Llama trained on TinyStories, MIT; extracted once to ~/.cache/nativelayers).",
        HelpName = "DIR|ORG/NAME[@REV]",
    };

    /// <summary>
    /// The folder of a --model value: the built-in default model when it was not given, an existing folder as it is,
    /// and otherwise a Hugging Face Hub repository (NAME or ORG/NAME, optionally @REVISION) as its snapshot folder in
    /// the hub's cache, downloaded first, with progress on stderr, when the cache lacks it.
    /// </summary>
    public static string ModelDirectory(string? value)
    {
        if (value == null) return DefaultModel.Directory;
        if (Directory.Exists(value)) return value;
        if (!HubModelReference.TryParse(value, out var model))
            throw new ModelFileException(value, "model folder not found (--model takes a model folder, or a Hugging Face Hub model as ORG/NAME or ORG/NAME@REVISION).");
        var rules = LoadingRules.Value;
        try { return HubModels.Snapshot(model, rules?.Hub ?? HubSettings.FromEnvironment(), rules?.Progress ?? System.Console.Error); }
        catch (HubModelNotFoundException e) { throw new ModelFileException(value, $"there is no model folder of that name, and {e.Message}", e); }
    }

    public static Option<int> Threads() => new Option<int>("--threads", "-t")
    {
        Description = "CPU threads (default: one per core).",
        DefaultValueFactory = _ => 0,
    }.AtLeast(0);

    public static Option<string> Device() => new("--device")
    {
        Description = "auto (CUDA when a GPU is present), cuda, cpu, or ilgpu-cpu (the GPU kernels on ILGPU's CPU emulator; slow, for checking).",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>The option of every command that reads a prompt or data file.</summary>
    public static Option<Loading.EncodingErrors> EncodingErrors() => new("--encoding-errors")
    {
        Description = "Invalid UTF-8 in an input text file: strict (an error naming the byte offset) or replace (read as U+FFFD).",
        HelpName = "strict|replace",
        DefaultValueFactory = _ => Loading.EncodingErrors.Strict,
        CustomParser = result => Token(result)?.ToLowerInvariant() switch
        {
            null => default,
            "strict" => Loading.EncodingErrors.Strict,
            "replace" => Loading.EncodingErrors.Replace,
            var other => throw new NativeLayersException($"--encoding-errors must be strict or replace, got '{other}'."),
        },
    };

    /// <summary>
    /// Makes <paramref name="option"/> read its value with the invariant culture and refuse, while the command line is
    /// parsed (so before any work), a value that is not a number, NaN, an infinity, or fails <paramref name="valid"/>;
    /// <paramref name="requirement"/> says what is expected, e.g. "in (0, 1]".
    /// </summary>
    public static Option<T> Requiring<T>(this Option<T> option, Func<T, bool> valid, string requirement) where T : struct, INumber<T>
    {
        option.CustomParser = result => Token(result) is { } text ? Number(option.Name, text, valid, requirement) : default;
        return option;
    }

    public static Option<T?> Requiring<T>(this Option<T?> option, Func<T, bool> valid, string requirement) where T : struct, INumber<T>
    {
        option.CustomParser = result => Token(result) is { } text ? Number(option.Name, text, valid, requirement) : null;
        return option;
    }

    public static Option<T> AtLeast<T>(this Option<T> option, T min) where T : struct, INumber<T> =>
        option.Requiring(v => v >= min, $"≥ {min}");

    public static Option<T?> AtLeast<T>(this Option<T?> option, T min) where T : struct, INumber<T> =>
        option.Requiring(v => v >= min, $"≥ {min}");

    public static Option<T> Positive<T>(this Option<T> option) where T : struct, INumber<T> =>
        option.Requiring(v => v > T.Zero, "> 0");

    private static T Number<T>(string option, string text, Func<T, bool> valid, string requirement) where T : struct, INumber<T>
    {
        if (!T.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out T value))
            throw new NativeLayersException($"{option} must be a number {requirement}, got '{text}'.");
        if (!T.IsFinite(value)) throw new NativeLayersException($"{option} must be a finite number {requirement}, got {text}.");
        return valid(value) ? value : throw new NativeLayersException($"{option} must be {requirement}, got {text}.");
    }

    /// <summary>A list of blocks (0-3,7,-1 or all) of a model with <paramref name="layers"/> blocks, named by its option when out of range.</summary>
    public static int[] Layers(string text, int layers, string option) => ForOption(option, () => LayerSelection.Parse(text, layers));

    /// <summary>A list of residual slots (0..L; 0 = embeddings, l + 1 = after block l) of a model with <paramref name="layers"/> blocks.</summary>
    public static int[] Slots(string text, int layers, string option) => ForOption(option, () => LayerSelection.ParseSlots(text, layers));

    /// <summary>An index into <paramref name="count"/> <paramref name="items"/>; negative counts from the end.</summary>
    public static int Index(int index, int count, string option, string items)
    {
        int resolved = index < 0 ? count + index : index;
        return resolved >= 0 && resolved < count
            ? resolved
            : throw new NativeLayersException($"{option} {index} is out of range: there are {count} {items} (0..{count - 1}, or -{count}..-1).");
    }

    /// <summary>The one value typed for an option; null (and a usage error) when there is none.</summary>
    private static string? Token(ArgumentResult result)
    {
        if (result.Tokens.Count == 1) return result.Tokens[0].Value;
        result.AddError($"{((OptionResult)result.Parent!).Option.Name} needs one value.");
        return null;
    }

    /// <summary>
    /// Checks an output file before any work: its extension is one of <paramref name="extensions"/> (any when none are
    /// given), it is not a directory, and its folder exists (missing folders are created) and takes files.
    /// </summary>
    public static string OutputFile(string path, string option, params IReadOnlyList<string> extensions)
    {
        ForOption(option, () =>
        {
            string extension = Path.GetExtension(path);
            if (extensions.Count > 0 && !extensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
                throw new ModelFileException(path, $"the extension must be {Alternatives(extensions)}, not {(extension == "" ? "none" : $"'{extension}'")}.");
            OutputPaths.PrepareFile(path);
        });
        return path;
    }

    /// <summary>Checks an output folder before any work: not a file, created when missing, and it takes files.</summary>
    public static string OutputFolder(string path, string option)
    {
        ForOption(option, () => OutputPaths.PrepareFolder(path));
        return path;
    }

    /// <summary>The optional --plot file, checked like every output.</summary>
    public static string? PlotFile(string? path) => path == null ? null : OutputFile(path, "--plot", LayerPlots.Extensions);

    /// <summary>The CSV written beside a JSON --out file, checked like every output.</summary>
    public static string CsvBeside(string json) => OutputFile(Path.ChangeExtension(json, ".csv"), "the CSV beside --out", ".csv");

    /// <summary>Runs <paramref name="parse"/>, prefixing the name of the option being parsed to its error.</summary>
    public static T ForOption<T>(string option, Func<T> parse)
    {
        try { return parse(); }
        catch (NativeLayersException e) { throw new NativeLayersException($"{option}: {e.Message}", e); }
    }

    public static void ForOption(string option, Action check) => ForOption(option, () => { check(); return true; });

    private static string Alternatives(IReadOnlyList<string> items) =>
        items.Count == 1 ? items[0] : string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1];

    /// <summary>A root option every command that loads a model honours.</summary>
    public static readonly Option<bool> AllowUnusedTensors = new("--allow-unused-tensors")
    {
        Description = "Load a model whose weight files hold tensors it does not use (by default an error: config.json probably does not describe the weights).",
        Recursive = true,
    };

    /// <summary>
    /// How this invocation loads models (set once per run from the root options; flows to the command's action): the
    /// hub settings for --model ORG/NAME (null: from the environment) and where download progress is drawn.
    /// </summary>
    public sealed record ModelLoadingRules(bool AllowUnusedTensors, HubSettings? Hub = null, TextWriter? Progress = null);

    public static readonly AsyncLocal<ModelLoadingRules?> LoadingRules = new();

    public static Transformer LoadModel(string directory, int threads, string device = "cpu")
    {
        var options = BackendChoice.Options(BackendChoice.Resolve(device), threads) with
        {
            AllowUnusedTensors = LoadingRules.Value?.AllowUnusedTensors ?? false,
        };
        return Transformer.Load(directory, options);
    }

    /// <summary>Parses "1,2,3" into non-negative integers (token ids, token types).</summary>
    public static int[] ParseIds(string text, string option = "--ids")
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new NativeLayersException($"{option} is empty; give comma-separated integers such as 1,403,407.");
        return parts.Select(p => int.TryParse(p, out int id) && id >= 0
            ? id
            : throw new NativeLayersException($"{option}: '{p}' is not a non-negative integer.")).ToArray();
    }

    /// <summary>The ids of a prompt given as text (through the model's tokenizer) or as explicit ids.</summary>
    public static int[] PromptIds(Transformer model, string? prompt, string? ids)
    {
        if ((prompt == null) == (ids == null))
            throw new NativeLayersException("give exactly one of --prompt TEXT or --ids 1,2,3.");
        if (ids != null) return ParseIds(ids);
        if (!model.HasTokenizer)
            throw new NativeLayersException($"{model.Folder.Directory} has no tokenizer (tokenizer.model, tokenizer.json or vocab.txt); use --ids instead of --prompt.");
        var encoded = model.Tokenizer.Encode(prompt!);
        if (encoded.Length == 0) throw new NativeLayersException("the prompt encodes to no tokens; give some text or --ids.");
        return encoded;
    }
}
