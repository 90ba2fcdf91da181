using System.Numerics.Tensors;
using NativeLayers.Loading;

namespace NativeLayers.Runtime;

/// <summary>
/// Turns NaN or infinity in a forward pass's outputs into an error that names the model and the first residual slot
/// where they appeared, instead of output that silently holds garbage (broken weights, an fp16 overflow).
/// </summary>
public static class NonFiniteOutputs
{
    /// <summary>The first slot holding a non-finite value, or null when every slot is finite.</summary>
    public static int? FirstNonFiniteSlot(ResidualStream stream)
    {
        for (int slot = 0; slot < stream.SlotCount; slot++)
            if (!TensorPrimitives.IsFiniteAll<float>(stream.Slot(slot))) return slot;
        return null;
    }

    /// <summary>Throws when a slot or the logits of <paramref name="result"/> hold NaN or infinity.</summary>
    public static void Require(Transformer model, ForwardResult result)
    {
        if (FirstNonFiniteSlot(result.Residual) is { } slot) throw Error(model, slot);
        if (result.Logits is { } logits && !TensorPrimitives.IsFiniteAll<float>(logits))
            throw new NativeLayersException($"{model.Folder.Directory}: the logits hold NaN or infinity although every residual slot is finite; the final norm or the unembedding weights are probably broken.");
    }

    /// <summary>Runs <paramref name="tokens"/> again with every slot on the host to find where values stopped being finite.</summary>
    public static NativeLayersException Diagnose(Transformer model, int[] tokens)
    {
        var result = model.Forward([tokens], new ForwardOptions { Logits = LogitsMode.None, AllowContextOverflow = true });
        return FirstNonFiniteSlot(result.Residual) is { } slot
            ? Error(model, slot)
            : new NativeLayersException($"{model.Folder.Directory}: the logits hold NaN or infinity although every residual slot is finite; the final norm or the unembedding weights are probably broken.");
    }

    private static NativeLayersException Error(Transformer model, int slot) => new(
        $"{model.Folder.Directory}: the forward pass produced NaN or infinity, first in residual slot {slot} " +
        $"({(slot == 0 ? "the embeddings" : $"the output of block {slot - 1}")}); the weights or config.json are probably broken.");
}
