using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>A learnable tensor and its gradient, named as in PyTorch ("weight", "bias").</summary>
public sealed class Parameter(string name, Tensor value)
{
    public string Name { get; } = name;
    public Tensor Value { get; } = value;
    /// <summary>Written (not accumulated) by the owning layer's Backward.</summary>
    public Tensor Gradient { get; } = new(value.ShapeArray);
}
