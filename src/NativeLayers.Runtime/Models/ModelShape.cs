namespace NativeLayers.Runtime.Models;

/// <summary>
/// What hooks, steering plans and captures are checked against: the model's blocks, width and block layout, and
/// whether sub-layer outputs pass a norm before joining the residual (then no steering can ride on a projection bias).
/// </summary>
public sealed record ModelShape(int Layers, int Width, BlockLayout Layout, string ModelType, bool SubLayerOutputNorms = false, bool MixtureOfExperts = false);
