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
internal sealed class TransformerBlock(IComputeBackend backend, Scratch scratch, ModelConfig config, ArchitectureSpec spec, RopeTable? rope)
{
    private int Width => config.HiddenSize;
    private readonly AttentionShape _shape = new(config.NumHeads, config.NumKvHeads, config.HeadDim, 1f / MathF.Sqrt(config.HeadDim),
        spec.Causal, spec.SlidingWindow);

    public void Run(int layer, BlockWeights block, ForwardBatch batch, BufferView input, BufferView output, HookApplier? hooks)
    {
        int rows = batch.Rows, d = Width;
        var normed = scratch.Get("normed", (long)rows * d);
        var attnOut = new HookId(HookPoint.AttnOut, layer);
        var mlpOut = new HookId(HookPoint.MlpOut, layer);
        var residMid = new HookId(HookPoint.ResidMid, layer);
        hooks?.Apply(new HookId(HookPoint.ResidPre, layer), input);
        switch (spec.Layout)
        {
            case BlockLayout.PreNorm:
                Norm(block.AttentionNorm, input, normed, rows);
                AddSubLayer(hooks, block.Output, Attend(layer, block, normed, batch), _shape.QueryWidth, input, output, rows, attnOut);
                hooks?.Apply(residMid, output);
                Norm(block.MlpNorm, output, normed, rows);
                AddSubLayer(hooks, block.Down, Mlp(block, normed, rows), config.IntermediateSize, output, output, rows, mlpOut);
                break;
            case BlockLayout.Parallel:
                Norm(block.AttentionNorm, input, normed, rows);
                AddSubLayer(hooks, block.Output, Attend(layer, block, normed, batch), _shape.QueryWidth, input, output, rows, attnOut);
                Norm(block.MlpNorm, input, normed, rows);
                AddSubLayer(hooks, block.Down, Mlp(block, normed, rows), config.IntermediateSize, output, output, rows, mlpOut);
                break;
            case BlockLayout.PostNorm:
                var middle = scratch.Get("middle", (long)rows * d);
                AddSubLayer(hooks, block.Output, Attend(layer, block, input, batch), _shape.QueryWidth, input, normed, rows, attnOut);
                Norm(block.AttentionNorm, normed, middle, rows);
                hooks?.Apply(residMid, middle);
                AddSubLayer(hooks, block.Down, Mlp(block, middle, rows), config.IntermediateSize, middle, output, rows, mlpOut);
                Norm(block.MlpNorm, output, output, rows);
                break;
        }
        hooks?.Apply(HookId.ResidPost(layer), output);
    }

    /// <summary>
    /// target = residual + projection(activations): the residual addition every sub-layer ends with. Folded steering
    /// rides on the projection's bias; the sub-layer output gets its own buffer only when a hook needs its rows.
    /// </summary>
    private void AddSubLayer(HookApplier? hooks, Linear projection, BufferView activations, int inFeatures, BufferView residual, BufferView target,
        int rows, HookId output)
    {
        int d = Width;
        var bias = hooks?.FoldedBias(projection, output);
        if (hooks != null && hooks.Schedule.NeedsRows(output))
        {
            var separate = scratch.Get("sublayer", (long)rows * d);
            backend.Linear(projection, activations, inFeatures, rows, separate, d, accumulate: false, bias);
            hooks.Apply(output, separate);
            backend.ResidualAdd(target, residual, separate, null, rows, d);
            return;
        }
        if (residual != target) backend.ResidualAdd(target, residual, null, null, rows, d);
        backend.Linear(projection, activations, inFeatures, rows, target, d, accumulate: true, bias);
    }

    /// <summary>Self-attention of the (normalised) rows: fused qkv projection, RoPE and cache append, attention. Returns [rows, heads·headDim].</summary>
    private BufferView Attend(int layer, BlockWeights block, BufferView source, ForwardBatch batch)
    {
        int rows = batch.Rows;
        var qkv = scratch.Get("qkv", (long)rows * _shape.QkvStride);
        var attention = scratch.Get("attention", (long)rows * _shape.QueryWidth);
        backend.Linear(block.Qkv, source, Width, rows, qkv, _shape.QkvStride, accumulate: false);
        backend.RotateAndAppend(batch, layer, qkv, _shape, spec.RotaryDim, rope);
        backend.Attention(batch, layer, qkv, _shape, attention);
        return attention;
    }

    /// <summary>act(gate) · up (or act(up)), then SoLU's inner LayerNorm; returns the [rows, intermediate] activations.</summary>
    private BufferView Mlp(BlockWeights block, BufferView normed, int rows)
    {
        int inter = config.IntermediateSize, upWidth = block.Up.OutFeatures;
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
}
