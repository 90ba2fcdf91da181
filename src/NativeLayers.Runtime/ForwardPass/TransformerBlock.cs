using NativeLayers.Backends;
using NativeLayers.Loading;
using NativeLayers.Runtime.Hooks;
using NativeLayers.Runtime.Models;

namespace NativeLayers.Runtime.ForwardPass;

/// <summary>
/// The one transformer block of every architecture and backend: the recipe's layout (pre-norm, parallel, post-norm)
/// written once over the backend ops. Block l reads slot l and writes slot l + 1; hook points are applied where
/// they sit, and sub-layer outputs get their own buffer only when a hook must see or change them.
/// </summary>
internal sealed class TransformerBlock(IComputeBackend backend, Scratch scratch, ModelConfig config, ArchitectureSpec spec, Func<int, RopeTable?> rope)
{
    private int Width => config.HiddenSize;

    /// <summary>Layer <paramref name="layer"/>'s attention (local layers have their own window).</summary>
    private AttentionShape Shape(int layer) => new(config.NumHeads, config.NumKvHeads, config.HeadDim,
        spec.AttentionScale ?? 1f / MathF.Sqrt(config.HeadDim), spec.Causal, spec.Attention(layer).SlidingWindow, spec.AttentionSoftCap);

    public void Run(int layer, BlockWeights block, ForwardBatch batch, BufferView input, BufferView output, HookApplier? hooks)
    {
        int rows = batch.Rows, d = Width, queryWidth = config.NumHeads * config.HeadDim;
        var normed = scratch.Get("normed", (long)rows * d);
        var attnOut = new HookId(HookPoint.AttnOut, layer);
        var mlpOut = new HookId(HookPoint.MlpOut, layer);
        var residMid = new HookId(HookPoint.ResidMid, layer);
        hooks?.Apply(new HookId(HookPoint.ResidPre, layer), input);
        switch (spec.Layout)
        {
            case BlockLayout.PreNorm:
                AddSubLayer(hooks, block.Output!, Attend(layer, block, PreNorm(block.AttentionNorm, input, normed, rows), batch), queryWidth,
                    input, output, rows, attnOut, block.AttentionOutputNorm);
                hooks?.Apply(residMid, output);
                if (block.Experts is { } experts)
                    AddComputed(hooks, MixtureOfExperts(layer, experts, PreNorm(block.MlpNorm, output, normed, rows), rows, hooks), output, output, rows, mlpOut, block.MlpOutputNorm);
                else
                    AddSubLayer(hooks, block.Down!, Mlp(block, PreNorm(block.MlpNorm, output, normed, rows), rows), config.IntermediateSize,
                        output, output, rows, mlpOut, block.MlpOutputNorm);
                break;
            case BlockLayout.Parallel:
                AddSubLayer(hooks, block.Output!, Attend(layer, block, PreNorm(block.AttentionNorm, input, normed, rows), batch), queryWidth,
                    input, output, rows, attnOut, block.AttentionOutputNorm);
                AddSubLayer(hooks, block.Down!, Mlp(block, PreNorm(block.MlpNorm, input, normed, rows), rows), config.IntermediateSize,
                    output, output, rows, mlpOut, block.MlpOutputNorm);
                break;
            case BlockLayout.StateSpace:
                var mixer = block.Mixer!;
                AddSubLayer(hooks, mixer.OutProjection, Mix(layer, mixer, PreNorm(block.AttentionNorm, input, normed, rows), batch), mixer.Channels,
                    input, output, rows, new HookId(HookPoint.MixerOut, layer), null);
                break;
            case BlockLayout.PostNorm:
                var middle = scratch.Get("middle", (long)rows * d);
                AddSubLayer(hooks, block.Output!, Attend(layer, block, input, batch), queryWidth, input, normed, rows, attnOut, null);
                Norm(block.AttentionNorm!, normed, middle, rows);
                hooks?.Apply(residMid, middle);
                AddSubLayer(hooks, block.Down!, Mlp(block, middle, rows), config.IntermediateSize, middle, output, rows, mlpOut, null);
                Norm(block.MlpNorm!, output, output, rows);
                break;
        }
        hooks?.Apply(HookId.ResidPost(layer), output);
    }

    /// <summary>
    /// target = residual + projection(activations) (normalised first when the layout has an output norm: Gemma 2/3,
    /// OLMo 2): the residual addition every sub-layer ends with. Folded steering rides on the projection's bias; the
    /// sub-layer output gets its own buffer only when a hook needs its rows or a norm must see it whole.
    /// </summary>
    private void AddSubLayer(HookApplier? hooks, Linear projection, BufferView activations, int inFeatures, BufferView residual, BufferView target,
        int rows, HookId output, NormWeights? outputNorm)
    {
        int d = Width;
        var bias = hooks?.FoldedBias(projection, output);
        if (outputNorm != null || (hooks != null && hooks.Schedule.NeedsRows(output)))
        {
            var separate = scratch.Get("sublayer", (long)rows * d);
            backend.Linear(projection, activations, inFeatures, rows, separate, d, accumulate: false, bias);
            AddComputed(hooks, separate, residual, target, rows, output, outputNorm);
            return;
        }
        if (residual != target) backend.ResidualAdd(target, residual, null, null, rows, d);
        backend.Linear(projection, activations, inFeatures, rows, target, d, accumulate: true, bias);
    }

    /// <summary>target = residual + (norm of) a sub-layer output already in its own buffer, with its hook point in between.</summary>
    private void AddComputed(HookApplier? hooks, BufferView computed, BufferView residual, BufferView target, int rows, HookId output, NormWeights? outputNorm)
    {
        if (outputNorm != null) Norm(outputNorm, computed, computed, rows);
        hooks?.Apply(output, computed);
        backend.ResidualAdd(target, residual, computed, null, rows, Width);
    }

    /// <summary>
    /// A sparse mixture of experts: router logits on the backend, top-k routing on the host (a few floats per token), then
    /// each expert runs only on the rows that chose it (gathered, gated MLP, scattered back with its weight).
    /// </summary>
    private BufferView MixtureOfExperts(int layer, ExpertWeights experts, BufferView normed, int rows, HookApplier? hooks)
    {
        int d = Width, count = experts.Count, inter = config.IntermediateSize;
        var routerLogits = scratch.Get("router_logits", (long)rows * count);
        backend.Linear(experts.Router, normed, d, rows, routerLogits, count, accumulate: false);
        var logits = new float[rows * count];
        backend.Download(routerLogits, logits);
        var routing = ExpertRouting.Route(logits, rows, count, experts.PerToken);
        hooks?.StoreIfCaptured(new HookId(HookPoint.RouterLogits, layer), logits);
        hooks?.StoreIfCaptured(new HookId(HookPoint.ExpertIds, layer), routing.Chosen.Select(e => (float)e).ToArray());

        var output = scratch.Get("moe_output", (long)rows * d);
        backend.Clear(output, (long)rows * d);
        var input = scratch.Get("expert_input", (long)rows * d);
        var up = scratch.Get("expert_up", (long)rows * 2 * inter);
        var hidden = scratch.Get("expert_hidden", (long)rows * inter);
        var result = scratch.Get("expert_output", (long)rows * d);
        for (int e = 0; e < count; e++)
        {
            var chosen = routing.Rows[e];
            if (chosen.Length == 0) continue;
            backend.GatherRows(normed, d, chosen, input);
            backend.Linear(experts.Up[e], input, d, chosen.Length, up, 2 * inter, accumulate: false);
            backend.ActivateGated(spec.Activation, up, hidden, chosen.Length, inter);
            backend.Linear(experts.Down[e], hidden, inter, chosen.Length, result, d, accumulate: false);
            backend.ScatterAddRows(result, d, chosen, routing.Weights[e], output);
        }
        return output;
    }

    /// <summary>Self-attention of the (normalised) rows: fused qkv projection, RoPE and cache append, attention. Returns [rows, heads·headDim].</summary>
    private BufferView Attend(int layer, BlockWeights block, BufferView source, ForwardBatch batch)
    {
        int rows = batch.Rows;
        var shape = Shape(layer);
        var qkv = scratch.Get("qkv", (long)rows * shape.QkvStride);
        var attention = scratch.Get("attention", (long)rows * shape.QueryWidth);
        backend.Linear(block.Qkv!, source, Width, rows, qkv, shape.QkvStride, accumulate: false);
        NormalizeQueriesAndKeys(block, qkv, rows, shape);
        backend.RotateAndAppend(batch, layer, qkv, shape, spec.RotaryDim, rope(layer));
        backend.Attention(batch, layer, qkv, shape, attention);
        return attention;
    }

    /// <summary>
    /// Mamba's token mixer: in projection to [u | z], causal conv + SiLU of u, x projection to [Δ in | B | C], Δ's own
    /// projection, then the selective scan gated by z, each sequence continuing from its recurrent state. Returns [rows, channels].
    /// </summary>
    private BufferView Mix(int layer, StateSpaceMixerWeights mixer, BufferView normed, ForwardBatch batch)
    {
        int rows = batch.Rows, channels = mixer.Channels, state = mixer.Scan.StateSize, rank = mixer.TimeStepRank;
        int inWidth = 2 * channels, xWidth = rank + 2 * state;
        BufferView inner = scratch.Get("mixer_in", (long)rows * inWidth);
        backend.Linear(mixer.InProjection, normed, Width, rows, inner, inWidth, accumulate: false);
        var u = scratch.Get("mixer_conv", (long)rows * channels);
        backend.CausalConv1d(batch, layer, inner, inWidth, mixer.Scan, u);
        BufferView projected = scratch.Get("mixer_x", (long)rows * xWidth);
        backend.Linear(mixer.XProjection, u, channels, rows, projected, xWidth, accumulate: false);
        var dt = scratch.Get("mixer_dt", (long)rows * channels);
        backend.Linear(mixer.DtProjection, projected, xWidth, rows, dt, channels, accumulate: false);
        var y = scratch.Get("mixer_y", (long)rows * channels);
        var inputs = new SelectiveScanInputs(u, dt, projected.At(rank), projected.At(rank + state), xWidth, inner.At(channels), inWidth);
        backend.SelectiveScan(batch, layer, inputs, mixer.Scan, y);
        return y;
    }

    /// <summary>RMSNorm of q and k in the fused [q | k | v] rows, per head or over each whole projection, before RoPE.</summary>
    private void NormalizeQueriesAndKeys(BlockWeights block, BufferView qkv, int rows, AttentionShape shape)
    {
        if (block.QNorm is not { } qNorm || block.KNorm is not { } kNorm) return;
        int stride = shape.QkvStride, hd = shape.HeadDim;
        if (spec.QkNorm == QkNorm.WholeProjection)
        {
            backend.Norm(spec.Norm, qNorm, spec.NormEps, qkv, qkv, rows, shape.QueryWidth, stride);
            backend.Norm(spec.Norm, kNorm, spec.NormEps, qkv.At(shape.QueryWidth), qkv.At(shape.QueryWidth), rows, shape.KvStride, stride);
            return;
        }
        for (int h = 0; h < shape.Heads; h++) backend.Norm(spec.Norm, qNorm, spec.NormEps, qkv.At(h * hd), qkv.At(h * hd), rows, hd, stride);
        for (int h = 0; h < shape.KvHeads; h++)
        {
            var head = qkv.At(shape.QueryWidth + h * hd);
            backend.Norm(spec.Norm, kNorm, spec.NormEps, head, head, rows, hd, stride);
        }
    }

    /// <summary>act(gate) · up (or act(up)), then SoLU's inner LayerNorm; returns the [rows, intermediate] activations.</summary>
    private BufferView Mlp(BlockWeights block, BufferView normed, int rows)
    {
        int inter = config.IntermediateSize, upWidth = block.Up!.OutFeatures;
        var up = scratch.Get("up", (long)rows * upWidth);
        backend.Linear(block.Up, normed, Width, rows, up, upWidth, accumulate: false);
        BufferView hidden = up;
        if (spec.GatedMlp)
        {
            hidden = scratch.Get("hidden", (long)rows * inter);
            backend.ActivateGated(spec.Activation, up, hidden, rows, inter);
        }
        else backend.Activate(spec.Activation, up, upWidth, rows, inter);
        if (block.MlpInnerNorm is { } inner) backend.Norm(NormKind.LayerNorm, inner, spec.NormEps, hidden, hidden, rows, inter);
        return hidden;
    }

    private void Norm(NormWeights norm, BufferView x, BufferView y, int rows) => backend.Norm(spec.Norm, norm, spec.NormEps, x, y, rows, Width);

    /// <summary>The sub-layer's input: norm(x) in <paramref name="scratchRows"/>, or x itself when the layout has no pre-norm (OLMo 2).</summary>
    private BufferView PreNorm(NormWeights? norm, BufferView x, BufferView scratchRows, int rows)
    {
        if (norm == null) return x;
        Norm(norm, x, scratchRows, rows);
        return scratchRows;
    }
}
