using System.Text.RegularExpressions;
using NativeLayers.Loading;

namespace NativeLayers.Runtime.Hooks;

/// <summary>Points of the forward pass that can be read or written, named as TransformerLens names them.</summary>
public enum HookPoint
{
    /// <summary>hook_embed: slot 0, the embedding output (with positions, scale and embedding norm).</summary>
    Embed,
    /// <summary>blocks.l.hook_resid_pre: slot l, the block's input.</summary>
    ResidPre,
    /// <summary>blocks.l.hook_attn_out: the attention sub-layer's output (after its output projection), before it joins the residual.</summary>
    AttnOut,
    /// <summary>blocks.l.hook_resid_mid: the residual between attention and MLP (sequential blocks; BERT: after its first LayerNorm).</summary>
    ResidMid,
    /// <summary>blocks.l.hook_mlp_out: the MLP's output (after its down projection), before it joins the residual.</summary>
    MlpOut,
    /// <summary>blocks.l.hook_resid_post: slot l+1, the block's output.</summary>
    ResidPost,
    /// <summary>ln_final.hook_normalized: the final norm's output (what the unembedding reads).</summary>
    FinalNormalized,
    /// <summary>blocks.l.mlp.hook_router_logits: a mixture-of-experts router's logits, [rows, experts], before the softmax.</summary>
    RouterLogits,
    /// <summary>blocks.l.mlp.hook_expert_ids: the experts each token ran, [rows, experts per token], highest weight first (as floats).</summary>
    ExpertIds,
    /// <summary>blocks.l.hook_mixer_out: a state-space block's mixer output (after its out projection), before it joins the residual (Mamba).</summary>
    MixerOut,
}

/// <summary>A hook point at a layer (Layer is -1 for the model-level points hook_embed and ln_final.hook_normalized).</summary>
public readonly record struct HookId(HookPoint Point, int Layer)
{
    public static HookId Embed => new(HookPoint.Embed, -1);
    public static HookId FinalNormalized => new(HookPoint.FinalNormalized, -1);
    public static HookId ResidPost(int layer) => new(HookPoint.ResidPost, layer);

    public bool IsModelLevel => Point is HookPoint.Embed or HookPoint.FinalNormalized;

    /// <summary>The residual slot this point is, or -1 when it is not a slot (computed values).</summary>
    public int Slot => Point switch
    {
        HookPoint.Embed => 0,
        HookPoint.ResidPre => Layer,
        HookPoint.ResidPost => Layer + 1,
        _ => -1,
    };

    public string Name => Point switch
    {
        HookPoint.Embed => "hook_embed",
        HookPoint.FinalNormalized => "ln_final.hook_normalized",
        HookPoint.RouterLogits or HookPoint.ExpertIds => $"blocks.{Layer}.mlp.hook_{ShortName(Point)}",
        _ => $"blocks.{Layer}.hook_{ShortName(Point)}",
    };

    public override string ToString() => Name;

    public static string ShortName(HookPoint point) => point switch
    {
        HookPoint.Embed => "embed",
        HookPoint.ResidPre => "resid_pre",
        HookPoint.AttnOut => "attn_out",
        HookPoint.ResidMid => "resid_mid",
        HookPoint.MlpOut => "mlp_out",
        HookPoint.ResidPost => "resid_post",
        HookPoint.FinalNormalized => "final_normalized",
        HookPoint.RouterLogits => "router_logits",
        HookPoint.ExpertIds => "expert_ids",
        HookPoint.MixerOut => "mixer_out",
        _ => throw new ArgumentOutOfRangeException(nameof(point)),
    };

    /// <summary>Parses a short point name (resid_post, attn_out, ...) or a hook_ prefixed one.</summary>
    public static HookPoint ParsePoint(string text)
    {
        string t = text.Trim();
        if (t.StartsWith("hook_")) t = t[5..];
        foreach (var p in Enum.GetValues<HookPoint>())
            if (ShortName(p) == t || (p == HookPoint.FinalNormalized && t is "ln_final" or "normalized")) return p;
        throw new NativeLayersException($"unknown hook point '{text}' (known: {string.Join(", ", Enum.GetValues<HookPoint>().Select(ShortName))}).");
    }

    private static readonly Regex BlockName = new(@"^blocks\.(-?\d+)\.(?:mlp\.)?hook_([a-z_]+)$", RegexOptions.CultureInvariant);

    /// <summary>Parses a full TransformerLens name; negative layers count from the end.</summary>
    public static HookId Parse(string name, int layers)
    {
        string n = name.Trim();
        if (n == "hook_embed") return Embed;
        if (n == "ln_final.hook_normalized") return FinalNormalized;
        var m = BlockName.Match(n);
        if (!m.Success)
            throw new NativeLayersException($"'{name}' is not a hook name (expected hook_embed, blocks.L.hook_resid_post, ..., ln_final.hook_normalized).");
        var point = ParsePoint(m.Groups[2].Value);
        if (point is HookPoint.Embed or HookPoint.FinalNormalized)
            throw new NativeLayersException($"'{name}': {m.Groups[2].Value} is not a per-block point.");
        return new HookId(point, ResolveLayer(int.Parse(m.Groups[1].Value), layers, name));
    }

    /// <summary>Rejects a point the model does not have (layer out of range, resid_mid in parallel blocks).</summary>
    public static void RequireExists(HookId hook, Models.ModelShape shape, string context)
    {
        if (!hook.IsModelLevel && (hook.Layer < 0 || hook.Layer >= shape.Layers))
            throw new NativeLayersException($"{context} {hook.Name}: layer {hook.Layer} is out of range; this model has blocks 0..{shape.Layers - 1}.");
        if (hook.Point == HookPoint.ResidMid && shape.Layout == Models.BlockLayout.Parallel)
            throw new NativeLayersException($"{hook.Name} does not exist in parallel-residual blocks ({shape.ModelType}).");
        if (hook.Point is HookPoint.RouterLogits or HookPoint.ExpertIds && !shape.MixtureOfExperts)
            throw new NativeLayersException($"{hook.Name} exists only in mixture-of-experts models; {shape.ModelType} has dense MLPs.");
        bool stateSpace = shape.Layout == Models.BlockLayout.StateSpace;
        if (hook.Point is HookPoint.AttnOut or HookPoint.ResidMid or HookPoint.MlpOut && stateSpace)
            throw new NativeLayersException($"{hook.Name} does not exist in {shape.ModelType}: its blocks have one mixer and no attention or MLP (use blocks.{hook.Layer}.hook_mixer_out).");
        if (hook.Point == HookPoint.MixerOut && !stateSpace)
            throw new NativeLayersException($"{hook.Name} exists only in state-space models (Mamba); {shape.ModelType} has attention (hook_attn_out) and MLP (hook_mlp_out).");
    }

    public static int ResolveLayer(int layer, int layers, string context)
    {
        int resolved = layer < 0 ? layers + layer : layer;
        if (resolved < 0 || resolved >= layers)
            throw new NativeLayersException($"{context}: layer {layer} is out of range; this model has blocks 0..{layers - 1} (or -{layers}..-1).");
        return resolved;
    }
}
