using System.CommandLine;
using NativeLayers.Loading;
using NativeLayers.Tokenizing;

namespace NativeLayers.Cli.Commands;

/// <summary>`nl tokenize`: the ids of a text, comma-separated.</summary>
public static class TokenizeCommand
{
    public static Command Build()
    {
        var model = CommonOptions.Model();
        var text = new Option<string>("--text") { Description = "Text to encode.", Required = true };
        var pieces = new Option<bool>("--pieces") { Description = "Also print the vocabulary piece of each id, one per line." };
        var command = new Command("tokenize", "Print the token ids of a text, comma-separated.") { model, text, pieces };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            string dir = CommonOptions.ModelDirectory(parse.GetValue(model));
            if (!Directory.Exists(dir)) throw new ModelFileException(dir, "model folder not found.");
            var tokenizer = TokenizerLoader.Load(dir);
            var ids = tokenizer.Encode(parse.GetValue(text)!);
            output.WriteLine(string.Join(",", ids));
            if (parse.GetValue(pieces))
                foreach (int id in ids) output.WriteLine($"{id}\t{tokenizer.TokenText(id)}");
            return 0;
        });
        return command;
    }
}
