using NativeLayers.GgufConvert;

const string Usage = """
    nl-gguf: converts a Hugging Face Llama-family folder (config.json + safetensors) to a GGUF v3 file for llama.cpp.

    usage: nl-gguf --model DIR --out FILE.gguf [--dtype f32|f16|bf16]

      --dtype   type of the matrices (default f32); norm weights stay f32. The vocabulary comes from the folder's
                tokenizer.model (SentencePiece), or is synthetic (<unk>, <s>, </s>, byte pieces, "▁tN") when it has none.
    """;

try
{
    var options = new Dictionary<string, string>();
    for (int i = 0; i < args.Length; i++)
    {
        if (args[i] is "--help" or "-h") { Console.WriteLine(Usage); return 0; }
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            throw new ArgumentException($"expected --option VALUE, got '{args[i]}'.");
        options[args[i][2..]] = args[++i];
    }
    if (args.Length == 0) { Console.WriteLine(Usage); return 0; }
    foreach (var key in options.Keys.Where(k => k is not ("model" or "out" or "dtype")))
        throw new ArgumentException($"unknown option --{key}.");
    string model = options.GetValueOrDefault("model") ?? throw new ArgumentException("--model DIR is required.");
    string output = options.GetValueOrDefault("out") ?? throw new ArgumentException("--out FILE.gguf is required.");
    var type = GgmlTypes.Parse(options.GetValueOrDefault("dtype", "f32"));
    var result = LlamaGgufConverter.Convert(model, output, type);
    Console.WriteLine($"{result.Path}: {result.Tensors} tensors, {result.Type}, {result.Bytes / 1e6:F1} MB, vocabulary {result.Vocabulary}");
    return 0;
}
catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException or NativeLayers.Loading.NativeLayersException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return e is ArgumentException ? 2 : 1;
}
