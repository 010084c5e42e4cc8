using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>
/// What a model actually runs: its declared layers compiled into steps. The compiler is the one place that
/// decides how layers combine:
/// <list type="bullet">
/// <item>a ReLU after a layer whose kernels can apply an activation (<see cref="IActivationProducer"/>: Conv2D,
///   BatchNorm) becomes an argument of that layer's forward and backward kernels, one step for both layers;</item>
/// <item>a final Softmax is left to the loss: <see cref="LogitSteps"/> steps produce the logits that the fused
///   softmax cross-entropy takes, and the training backward pass starts below the Softmax;</item>
/// <item>the training backward pass stops at the first step with parameters, which writes parameter gradients
///   only (nobody reads the gradient of the model's input).</item>
/// </list>
/// Steps keep the declared layer indices they cover, so names ("layers.{i}.weight") never depend on the plan.
/// A model has a training plan and an evaluation plan; they are compiled alike today, and kept apart so the
/// evaluation plan may rewrite steps (for instance fold BatchNorm into the convolution before it).
/// </summary>
public sealed class ExecutionPlan
{
    ExecutionPlan(IReadOnlyList<PlanStep> steps, int logitSteps, int firstTrainedStep) =>
        (Steps, LogitSteps, FirstTrainedStep) = (steps, logitSteps, firstTrainedStep);

    public IReadOnlyList<PlanStep> Steps { get; }

    /// <summary>The steps that produce the logits: all of them, or all but a final Softmax.</summary>
    public int LogitSteps { get; }

    /// <summary>True when the last step is a Softmax that training leaves to the loss.</summary>
    public bool EndsWithSoftmax => LogitSteps < Steps.Count;

    /// <summary>
    /// The lowest step the training backward pass reaches: the first step with parameters (it computes no
    /// δinput); <see cref="Steps"/>.Count when no step has parameters.
    /// </summary>
    public int FirstTrainedStep { get; }

    /// <summary>True when the training backward pass asks step <paramref name="step"/> for its input gradient.</summary>
    public bool NeedsInputGradient(int step) => step > FirstTrainedStep;

    /// <summary>True when the layers end with a Softmax whose gradient the fused cross-entropy computes.</summary>
    public static bool EndsWithSoftmaxLayer(IReadOnlyList<Layer> layers) => layers.Count > 0 && layers[^1] is Softmax;

    /// <summary>The plan training runs (forward in training mode, backward).</summary>
    public static ExecutionPlan ForTraining(IReadOnlyList<Layer> layers) => Compile(layers);

    /// <summary>The plan evaluation and prediction run. Today the training plan's steps; the place to fold BatchNorm into convolutions.</summary>
    public static ExecutionPlan ForEvaluation(IReadOnlyList<Layer> layers) => Compile(layers);

    static ExecutionPlan Compile(IReadOnlyList<Layer> layers)
    {
        var steps = new List<PlanStep>();
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is IActivationProducer && i + 1 < layers.Count && layers[i + 1] is ReLU)
            {
                steps.Add(new ActivatedStep(i, layers[i], Activation.ReLU));
                i++;
            }
            else steps.Add(new LayerStep(i, layers[i]));
        }
        int logitSteps = EndsWithSoftmaxLayer(layers) ? steps.Count - 1 : steps.Count;
        int firstTrained = steps.FindIndex(step => step.HasParameters);
        return new ExecutionPlan(steps, logitSteps, firstTrained < 0 ? steps.Count : firstTrained);
    }

    /// <summary>Runs the steps on a batch; the logits (<paramref name="toLogits"/>) or the model's output.</summary>
    public Tensor Forward(Tensor input, bool training, bool toLogits)
    {
        var x = input;
        int count = toLogits ? LogitSteps : Steps.Count;
        for (int i = 0; i < count; i++) x = Steps[i].Forward(x, training);
        return x;
    }

    /// <summary>Back-propagates δ of the output (or of the logits) through every step and returns δinput.</summary>
    public Tensor Backward(Tensor δ, bool fromLogits)
    {
        for (int i = (fromLogits ? LogitSteps : Steps.Count) - 1; i >= 0; i--) δ = Steps[i].Backward(δ, inputGradient: true)!;
        return δ;
    }

    /// <summary>The training backward pass: δ of the logits to every parameter gradient, no further.</summary>
    public void BackwardParameters(Tensor δlogits)
    {
        var δ = δlogits;
        for (int i = LogitSteps - 1; i >= FirstTrainedStep; i--) δ = Steps[i].Backward(δ, NeedsInputGradient(i))!;
    }

    public override string ToString() => string.Join(" -> ", Steps);
}

/// <summary>One step of a plan: declared layers [FirstLayer, FirstLayer + LayerCount) run as one.</summary>
public abstract class PlanStep(int firstLayer, int layerCount)
{
    public int FirstLayer { get; } = firstLayer;
    public int LayerCount { get; } = layerCount;
    public abstract bool HasParameters { get; }
    public abstract Tensor Forward(Tensor input, bool training);

    /// <summary>Writes the step's parameter gradients and returns δinput, or null when <paramref name="inputGradient"/> is false.</summary>
    public abstract Tensor? Backward(Tensor δoutput, bool inputGradient);
}

/// <summary>One declared layer as it is.</summary>
public sealed class LayerStep(int index, Layer layer) : PlanStep(index, 1)
{
    public Layer Layer { get; } = layer;
    public override bool HasParameters => Layer.Parameters.Count > 0;
    public override Tensor Forward(Tensor input, bool training) => Layer.Forward(input, training);

    public override Tensor? Backward(Tensor δoutput, bool inputGradient)
    {
        if (inputGradient) return Layer.Backward(δoutput);
        Layer.BackwardParametersOnly(δoutput);
        return null;
    }

    public override string ToString() => Layer.ToString();
}

/// <summary>A layer and the activation layer after it: the activation is an argument of the layer's kernels.</summary>
public sealed class ActivatedStep : PlanStep
{
    readonly IActivationProducer producer;

    internal ActivatedStep(int index, Layer layer, Activation activation) : base(index, 2)
    {
        (Layer, Activation) = (layer, activation);
        producer = (IActivationProducer)layer;
    }

    public Layer Layer { get; }
    public Activation Activation { get; }
    public override bool HasParameters => Layer.Parameters.Count > 0;
    public override Tensor Forward(Tensor input, bool training) => producer.Forward(input, training, Activation);
    public override Tensor? Backward(Tensor δoutput, bool inputGradient) => producer.Backward(δoutput, Activation, inputGradient);
    public override string ToString() => $"{Layer} + {Activation}";
}
