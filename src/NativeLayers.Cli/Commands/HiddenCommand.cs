using System.CommandLine;
using NativeLayers.Loading;
using NativeLayers.Runtime;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl hidden`: every residual slot and the logits of one prompt, to a safetensors file.</summary>
public static class HiddenCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var prompt = new PromptOptions();
        var output = new Option<string>("--out", "-o") { Description = "Output .safetensors file.", Required = true };
        var steer = SteerOption.Create();
        var sae = new SaeOptions();
        var tokenTypes = new Option<string?>("--token-types") { Description = "Token types (segments) per token, comma-separated (BERT)." };
        var command = new Command("hidden",
            "Write resid.{i} for every slot i = 0..L (F32 [tokens, d_model]; resid.L is the raw residual before the final norm) and logits (F32 [tokens, vocab]; BERT: pooler_output).")
            { model, threads, device, output, tokenTypes, steer };
        foreach (var option in prompt.All.Concat(sae.All)) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string path = CommonOptions.OutputFile(parse.GetValue(output)!, "--out", ".safetensors");
            using var m = CommonOptions.LoadModel(CommonOptions.ModelDirectory(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(device)!);
            int[] tokens = prompt.Read(parse, m);
            int[][]? types = parse.GetValue(tokenTypes) is { } text ? [CommonOptions.ParseIds(text, "--token-types")] : null;
            var result = m.Forward([tokens], prompt.Forward(parse) with { Logits = m.DefaultLogits, TokenTypes = types, Steering = sae.AddTo(parse, m, SteerOption.Parse(parse.GetValue(steer), m)) });
            NonFiniteOutputs.Require(m, result);
            Write(path, m, tokens, result);
            string extra = result.Logits != null ? $"logits [{tokens.Length}, {m.VocabSize}]" : m.Weights.Pooler != null ? $"pooler_output [1, {m.Width}]" : "no logits (no LM head)";
            parse.InvocationConfiguration.Output.WriteLine($"wrote {path}: resid.0..resid.{m.Layers} [{tokens.Length}, {m.Width}], {extra}");
            return 0;
        });
        return command;
    }

    public static void Write(string path, Transformer model, int[] tokens, ForwardResult result)
    {
        var tensors = new List<TensorData>();
        for (int i = 0; i < result.Residual.SlotCount; i++)
            tensors.Add(TensorData.FromFloats($"resid.{i}", [tokens.Length, model.Width], result.Residual.Slot(i).ToArray()));
        if (result.Logits != null)
            tensors.Add(TensorData.FromFloats("logits", [tokens.Length, model.VocabSize], result.Logits));
        if (model.Weights.Pooler != null)
            tensors.Add(TensorData.FromFloats("pooler_output", [1, model.Width], model.PooledOutput(result.Residual)));
        tensors.Add(TensorData.FromInt64("input_ids", [tokens.Length], tokens.Select(t => (long)t).ToArray()));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["model"] = Path.GetFullPath(model.Folder.Directory),
            ["slots"] = "resid.0 = embeddings, resid.{l+1} = residual after block l, resid.L = raw residual before the final norm",
        };
        SafetensorsWriter.Write(path, tensors, metadata);
    }
}
