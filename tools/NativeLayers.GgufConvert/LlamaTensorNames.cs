using System.Text.RegularExpressions;

namespace NativeLayers.GgufConvert;

/// <summary>Which rotary permutation a tensor's rows need on the way to llama.cpp.</summary>
public enum RowPermutation { None, QueryHeads, KeyHeads }

/// <summary>A Hugging Face Llama tensor's llama.cpp name and the row permutation it needs.</summary>
public sealed record GgufName(string Name, RowPermutation Permutation);

/// <summary>Hugging Face LlamaForCausalLM tensor names → llama.cpp's LLAMA names (token_embd, blk.N.attn_q, …).</summary>
public static partial class LlamaTensorNames
{
    private static readonly Dictionary<string, string> Globals = new()
    {
        ["model.embed_tokens.weight"] = "token_embd.weight",
        ["model.norm.weight"] = "output_norm.weight",
        ["lm_head.weight"] = "output.weight",
    };

    private static readonly Dictionary<string, GgufName> BlockParts = new()
    {
        ["input_layernorm.weight"] = new("attn_norm.weight", RowPermutation.None),
        ["self_attn.q_proj.weight"] = new("attn_q.weight", RowPermutation.QueryHeads),
        ["self_attn.k_proj.weight"] = new("attn_k.weight", RowPermutation.KeyHeads),
        ["self_attn.v_proj.weight"] = new("attn_v.weight", RowPermutation.None),
        ["self_attn.o_proj.weight"] = new("attn_output.weight", RowPermutation.None),
        ["post_attention_layernorm.weight"] = new("ffn_norm.weight", RowPermutation.None),
        ["mlp.gate_proj.weight"] = new("ffn_gate.weight", RowPermutation.None),
        ["mlp.up_proj.weight"] = new("ffn_up.weight", RowPermutation.None),
        ["mlp.down_proj.weight"] = new("ffn_down.weight", RowPermutation.None),
    };

    /// <summary>Buffers some checkpoints carry that llama.cpp recomputes.</summary>
    public static bool IsIgnored(string name) => name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    /// <summary>The llama.cpp name, or null for a tensor the LLAMA architecture has no place for.</summary>
    public static GgufName? Map(string name)
    {
        if (Globals.TryGetValue(name, out var global)) return new(global, RowPermutation.None);
        var match = BlockName().Match(name);
        if (match.Success && BlockParts.TryGetValue(match.Groups[2].Value, out var part))
            return part with { Name = $"blk.{match.Groups[1].Value}.{part.Name}" };
        return null;
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex BlockName();
}
