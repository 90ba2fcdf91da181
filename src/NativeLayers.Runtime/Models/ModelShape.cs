namespace NativeLayers.Runtime.Models;

/// <summary>What hooks, steering plans and captures are checked against: the model's blocks, width and block layout.</summary>
public sealed record ModelShape(int Layers, int Width, BlockLayout Layout, string ModelType);
