using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>
/// A model as a plain list of layers. Parameters are named "layers.{index}.{name}" with the index
/// counting every layer, as PyTorch's nn.Sequential does, so checkpoints open there unchanged.
/// </summary>
public sealed class Sequential
{
    public Sequential(IEnumerable<Layer> layers) => Layers = layers.ToList();

    public IReadOnlyList<Layer> Layers { get; }
    public int[] InputShape { get; private set; } = [];
    public int[] OutputShape { get; private set; } = [];
    /// <summary>Shape of one sample after each layer (no batch dimension); set by Build.</summary>
    public IReadOnlyList<int[]> LayerOutputShapes { get; private set; } = [];
    public bool IsBuilt => LayerOutputShapes.Count == Layers.Count && Layers.Count > 0;

    /// <summary>True when the last layer is Softmax: training then feeds its input (the logits) to the fused loss.</summary>
    public bool EndsWithSoftmax => Layers.Count > 0 && Layers[^1] is Softmax;

    public IReadOnlyList<(string Name, Parameter Parameter)> NamedParameters =>
        Layers.SelectMany((layer, index) => layer.Parameters.Select(p => ($"layers.{index}.{p.Name}", p))).ToList();

    /// <summary>Non-learned tensors saved with the weights ("layers.{index}.running_mean", ...).</summary>
    public IReadOnlyList<(string Name, Tensor Value)> NamedBuffers =>
        Layers.SelectMany((layer, index) => layer.Buffers.Select(b => ($"layers.{index}.{b.Name}", b.Value))).ToList();

    public IEnumerable<Parameter> Parameters => Layers.SelectMany(layer => layer.Parameters);
    public long ParameterCount => Parameters.Sum(p => (long)p.Value.Length);

    /// <summary>Sizes every layer for samples of <paramref name="sampleShape"/> and draws initial weights.</summary>
    public Sequential Build(int[] sampleShape, Rng rng)
    {
        InputShape = sampleShape;
        var shapes = new List<int[]>();
        int[] shape = sampleShape;
        foreach (var layer in Layers)
        {
            shape = layer.Build(shape, rng);
            shapes.Add(shape);
        }
        LayerOutputShapes = shapes;
        OutputShape = shape;
        // BatchNorm or Conv2D followed by ReLU: the ReLU is applied inside (it then passes through; same results).
        for (int i = 0; i + 1 < Layers.Count; i++)
            if (Layers[i + 1] is ReLU relu)
            {
                if (Layers[i] is BatchNorm batchNorm) batchNorm.FuseFollowingReLU(relu);
                else if (Layers[i] is Conv2D conv) conv.FuseFollowingReLU(relu);
            }
        return this;
    }

    /// <summary>Runs every layer; the result is the model's output (probabilities when it ends with Softmax).</summary>
    public Tensor Forward(Tensor input, bool training) => Forward(input, training, Layers.Count);

    /// <summary>Runs every layer but a final Softmax: the logits the cross-entropy loss wants.</summary>
    public Tensor ForwardLogits(Tensor input, bool training) => Forward(input, training, EndsWithSoftmax ? Layers.Count - 1 : Layers.Count);

    Tensor Forward(Tensor input, bool training, int layerCount)
    {
        if (!IsBuilt) throw new InvalidOperationException("the model must be built before Forward");
        if (input.Rank != InputShape.Length + 1 || !input.Shape[1..].SequenceEqual(InputShape))
            throw new ShapeException($"model input: expected {Tensor.ShapeString([-1, .. InputShape])}, got {Tensor.ShapeString(input.Shape)}");
        var x = input;
        for (int i = 0; i < layerCount; i++) x = Layers[i].Forward(x, training);
        return x;
    }

    /// <summary>Back-propagates δ of the full output.</summary>
    public Tensor Backward(Tensor δoutput) => Backward(δoutput, Layers.Count);

    /// <summary>Back-propagates δ of the logits (skipping a final Softmax, whose gradient the loss fused).</summary>
    public Tensor BackwardFromLogits(Tensor δlogits) => Backward(δlogits, EndsWithSoftmax ? Layers.Count - 1 : Layers.Count);

    /// <summary>
    /// Back-propagates δ of the logits to every parameter but stops short of the model's input
    /// gradient (training never reads it; the first layer skips that work).
    /// </summary>
    public void BackwardParametersFromLogits(Tensor δlogits)
    {
        int layerCount = EndsWithSoftmax ? Layers.Count - 1 : Layers.Count;
        var δ = δlogits;
        for (int i = layerCount - 1; i >= 1; i--) δ = Layers[i].Backward(δ);
        if (layerCount > 0) Layers[0].BackwardParametersOnly(δ);
    }

    Tensor Backward(Tensor δ, int layerCount)
    {
        for (int i = layerCount - 1; i >= 0; i--) δ = Layers[i].Backward(δ);
        return δ;
    }
}
