using NativeLayers.Loading;
using NativeLayers.Runtime.Models;

namespace NativeLayers.Runtime.ForwardPass;

/// <summary>Checks a forward call's inputs before any op runs, so every backend gives the same clear errors.</summary>
internal static class InputValidation
{
    public static void Check(string source, ModelConfig config, ModelWeights weights, IReadOnlyList<Sequence> sequences,
        IReadOnlyList<int[]> tokens, ForwardOptions options)
    {
        var tokenTypes = options.TokenTypes;
        if (sequences.Count != tokens.Count)
            throw new NativeLayersException($"{sequences.Count} sequences but {tokens.Count} token lists; give one token list per sequence.");
        int vocab = config.VocabSize;
        for (int s = 0; s < tokens.Count; s++)
        {
            if (tokens[s] == null) throw new NativeLayersException($"sequence {s} has no token list.");
            foreach (int id in tokens[s])
                if ((uint)id >= (uint)vocab)
                    throw new NativeLayersException($"token id {id} is outside the vocabulary of {source} (0..{vocab - 1}).");
            long end = (long)sequences[s].Length + tokens[s].Length;
            if (weights.PositionEmbedding is { } table && end > table.Rows)
                throw new NativeLayersException($"position {Math.Max(table.Rows, sequences[s].Length)} is beyond the {table.Rows} learned positions of {source}; use shorter inputs.");
            if (end > config.MaxPositions && !options.AllowContextOverflow)
                throw new NativeLayersException($"sequence {s} would reach {end} tokens, past the {config.MaxPositions} positions of {source} (max_position_embeddings); " +
                    "use shorter inputs, or allow running past the context (--allow-overflow-context).");
        }
        if (tokenTypes == null) return;
        if (weights.TokenTypeEmbedding is not { } types)
            throw new NativeLayersException($"{config.ModelType} models take no token types.");
        if (tokenTypes.Count != tokens.Count || tokens.Zip(tokenTypes).Any(p => p.Second == null || p.First.Length != p.Second.Length))
            throw new NativeLayersException("token types must give one type per token of every sequence.");
        foreach (int t in tokenTypes.SelectMany(x => x))
            if ((uint)t >= (uint)types.Rows) throw new NativeLayersException($"token type {t} is outside 0..{types.Rows - 1}.");
    }
}
