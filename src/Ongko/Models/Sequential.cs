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
    public bool EndsWithSoftmax => ExecutionPlan.EndsWithSoftmaxLayer(Layers);

    /// <summary>The steps training runs (set by Build; see <see cref="ExecutionPlan"/>).</summary>
    public ExecutionPlan TrainingPlan => trainingPlan ?? throw new InvalidOperationException("the model must be built first");

    /// <summary>The steps evaluation and prediction run (set by Build).</summary>
    public ExecutionPlan EvaluationPlan => evaluationPlan ?? throw new InvalidOperationException("the model must be built first");

    ExecutionPlan? trainingPlan, evaluationPlan;
    ExecutionPlan? lastForward;   // the plan of the last Forward, which Backward goes back through

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
        trainingPlan = FrozenLayers == 0 ? ExecutionPlan.ForTraining(Layers) : ExecutionPlan.ForTraining(Layers, FrozenLayers);
        evaluationPlan = ExecutionPlan.ForEvaluation(Layers);
        return this;
    }

    /// <summary>The first declared layers that training leaves unchanged (see <see cref="Freeze"/>); 0 when all train.</summary>
    public int FrozenLayers { get; private set; }

    /// <summary>
    /// Freezes the first <paramref name="layers"/> declared layers (0 unfreezes): from now on a training forward pass
    /// runs them as in evaluation (BatchNorm keeps its running statistics, Dropout is off) and the backward pass stops
    /// after them, so their parameters get no gradient. An optimizer must also be told to skip them
    /// (<c>Optimizer.Freeze</c>), since weight decay and momentum move a weight without a gradient.
    /// </summary>
    public void Freeze(int layers)
    {
        if (!IsBuilt) throw new InvalidOperationException("the model must be built before Freeze");
        if (layers < 0 || layers > Layers.Count) throw new ArgumentOutOfRangeException(nameof(layers), $"the model has {Layers.Count} layers");
        if (layers == FrozenLayers) return;
        trainingPlan = layers == 0 ? ExecutionPlan.ForTraining(Layers) : ExecutionPlan.ForTraining(Layers, layers);
        FrozenLayers = layers;
        lastForward = null;
    }

    /// <summary>Runs every layer; the result is the model's output (probabilities when it ends with Softmax).</summary>
    public Tensor Forward(Tensor input, bool training) => Forward(input, training, toLogits: false);

    /// <summary>Runs every layer but a final Softmax: the logits the cross-entropy loss wants.</summary>
    public Tensor ForwardLogits(Tensor input, bool training) => Forward(input, training, toLogits: true);

    Tensor Forward(Tensor input, bool training, bool toLogits)
    {
        if (!IsBuilt) throw new InvalidOperationException("the model must be built before Forward");
        if (input.Rank != InputShape.Length + 1 || !input.Shape[1..].SequenceEqual(InputShape))
            throw new ShapeException($"model input: expected {Tensor.ShapeString([-1, .. InputShape])}, got {Tensor.ShapeString(input.Shape)}");
        lastForward = training ? TrainingPlan : EvaluationPlan;
        return lastForward.Forward(input, training, toLogits);
    }

    /// <summary>Back-propagates δ of the full output and returns δinput.</summary>
    public Tensor Backward(Tensor δoutput) => LastForward.Backward(δoutput, fromLogits: false);

    /// <summary>Back-propagates δ of the logits (skipping a final Softmax, whose gradient the loss fused).</summary>
    public Tensor BackwardFromLogits(Tensor δlogits) => LastForward.Backward(δlogits, fromLogits: true);

    /// <summary>
    /// Back-propagates δ of the logits to every parameter but stops short of the model's input gradient
    /// (the training plan's backward pass).
    /// </summary>
    public void BackwardParametersFromLogits(Tensor δlogits) => TrainingPlan.BackwardParameters(δlogits);

    ExecutionPlan LastForward => lastForward ?? throw new InvalidOperationException("Backward before Forward");
}
