using System.CommandLine;
using NativeLayers.Runtime.Serving;
using NativeLayers.Serving;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl serve`: the OpenAI-compatible server (with per-request steering and capture) over one model.</summary>
public static class ServeCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var host = new Option<string>("--host") { Description = "Address to listen on (an IP address or localhost). Only localhost by default: the server has no TLS.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0 = any free port).", DefaultValueFactory = _ => 8000 }.Requiring(p => p is >= 0 and <= 65535, "in 0..65535");
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on every endpoint but /health (default: $NL_API_KEY, else none)." };
        var modelName = new Option<string?>("--model-name") { Description = "The model id clients use (default: the model folder's name)." };
        var saes = new Option<string[]>("--sae")
        {
            Description = "An SAE requests may steer with by name: NAME=DIR[@HOOK] (SAELens or sparsify folder, Gemma Scope params.npz); repeatable.",
            HelpName = "NAME=DIR[@HOOK]",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "A Jinja chat template file, instead of (or for models without) tokenizer_config.json's chat_template.", HelpName = "FILE" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Sequences decoded together in one step.", DefaultValueFactory = _ => 32 }.Positive();
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests that may wait for a place in the batch; more get 429.", DefaultValueFactory = _ => 256 }.AtLeast(0);
        var maxInFlight = new Option<long>("--max-tokens-in-flight") { Description = "Prompt plus max_tokens of all running and waiting requests (bounds KV memory); more get 429.", DefaultValueFactory = _ => 1L << 20 }.Positive();
        var prefillChunk = new Option<int>("--prefill-chunk") { Description = "Prompt tokens prefilled per step, so new prompts join without stalling running decodes.", DefaultValueFactory = _ => 256 }.Positive();
        var maxTokens = new Option<int>("--max-tokens-per-request") { Description = "The largest max_tokens a request may ask for.", DefaultValueFactory = _ => 4096 }.Positive();
        var maxBody = new Option<long>("--max-body-bytes") { Description = "The largest request body (413 past it).", DefaultValueFactory = _ => 16L << 20 }.Positive();

        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API (completions, chat, streaming) with steering and capture per request.")
            { model, threads, device, host, port, apiKey, modelName, chatTemplate, saes, maxBatch, maxQueue, maxInFlight, prefillChunk, maxTokens, maxBody };
        command.SetAction(async (parse, cancellation) =>
        {
            var error = parse.InvocationConfiguration.Error;
            string? template = parse.GetValue(chatTemplate) is { } file ? Loading.TextFiles.ReadAll(file, "chat template") : null;
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey) ?? (Environment.GetEnvironmentVariable("NL_API_KEY") is { Length: > 0 } key ? key : null),
                ModelName = parse.GetValue(modelName) ?? (parse.GetValue(model) == null ? DefaultModel.Name : null),
                ChatTemplate = template,
                Saes = LoadSaes(parse.GetValue(saes) ?? [], m),
                Engine = new EngineOptions
                {
                    MaxBatch = parse.GetValue(maxBatch), MaxQueued = parse.GetValue(maxQueue),
                    MaxTokensInFlight = parse.GetValue(maxInFlight), PrefillChunkTokens = parse.GetValue(prefillChunk),
                },
                Limits = new RequestLimits { MaxTokens = parse.GetValue(maxTokens), MaxBodyBytes = parse.GetValue(maxBody), MaxPromptTokens = m.Config.MaxPositions },
            };
            await using var server = await OpenAiServer.StartAsync(m, options, cancellation: cancellation);
            error.WriteLine($"nl serve: {m.Folder.Directory} on {m.Device} at {server.Url}/v1 ({(options.ApiKey != null ? "API key required" : "no API key")}); Ctrl+C stops.");
            await server.WaitForShutdownAsync(cancellation);
            return 0;
        });
        return command;
    }

    /// <summary>The --sae NAME=DIR[@HOOK] entries, each checked against the model's hook points and width.</summary>
    private static Dictionary<string, Analysis.Saes.SparseAutoencoder> LoadSaes(string[] specs, Runtime.Transformer model)
    {
        var saes = new Dictionary<string, Analysis.Saes.SparseAutoencoder>();
        foreach (var spec in specs)
        {
            int eq = spec.IndexOf('=');
            if (eq <= 0) throw new Loading.NativeLayersException($"--sae '{spec}' must look like NAME=DIR[@HOOK].");
            var sae = Analysis.Saes.SaeFiles.Load(spec[(eq + 1)..]);
            Analysis.Saes.SaeEvaluation.HookOf(model, sae);
            if (!saes.TryAdd(spec[..eq], sae)) throw new Loading.NativeLayersException($"--sae: the name '{spec[..eq]}' is given twice.");
        }
        return saes;
    }
}
