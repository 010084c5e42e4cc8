using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// One step of a sequential model. A layer is built once for the shape of one sample, then
/// runs Forward on batches (batch first) and Backward with the gradient of its output.
/// Layers own and reuse their output and gradient buffers: a returned tensor stays valid
/// until the layer's next call of the same kind.
/// </summary>
public abstract class Layer
{
    /// <summary>The name used in YAML configs, e.g. "Conv2D".</summary>
    public abstract string Kind { get; }

    /// <summary>The arguments as written in a config row, for summaries and checkpoints.</summary>
    public abstract string Arguments { get; }

    public virtual IReadOnlyList<Parameter> Parameters => [];

    /// <summary>Tensors saved with the weights but not learned by gradient (BatchNorm's running statistics).</summary>
    public virtual IReadOnlyList<(string Name, Tensor Value)> Buffers => [];

    /// <summary>Private generator state to keep in checkpoints (Dropout's mask stream), or null.</summary>
    public virtual string? SaveState() => null;

    public virtual void LoadState(string state) { }

    /// <summary>Sets up parameters for samples of <paramref name="sampleShape"/> (no batch dimension)
    /// and returns the shape of one output sample.</summary>
    public abstract int[] Build(int[] sampleShape, Rng rng);

    public abstract Tensor Forward(Tensor input, bool training);

    /// <summary>Takes δoutput, writes the parameters' gradients and returns δinput.</summary>
    public abstract Tensor Backward(Tensor δoutput);

    /// <summary>
    /// Writes the parameters' gradients without δinput, for the first layer of a model in training,
    /// whose input gradient nobody reads. Layers that can skip work override it.
    /// </summary>
    public virtual void BackwardParametersOnly(Tensor δoutput) => Backward(δoutput);

    /// <summary>
    /// The training plan's two shared δ buffers while its backward pass runs (<see cref="GradientBuffers"/>), null otherwise:
    /// then Backward writes δinput into the one δoutput is not in instead of a buffer of its own.
    /// </summary>
    internal GradientBuffers? SharedGradients { get; set; }

    Tensor? sharedInputGradient;   // the view of a shared buffer that InputGradient last handed out

    /// <summary>
    /// The tensor Backward writes δinput of <paramref name="shape"/> into: a view of the shared buffer that δoutput is not in
    /// during a training backward pass, else the layer's own buffer (never a view left from such a pass, which other layers
    /// share).
    /// </summary>
    protected Tensor InputGradient(ref Tensor? buffer, Tensor δoutput, ReadOnlySpan<int> shape)
    {
        if (SharedGradients is not { } shared)
        {
            if (buffer is not null && ReferenceEquals(buffer, sharedInputGradient)) (buffer, sharedInputGradient) = (null, null);
            return Tensor.Reuse(ref buffer, shape);
        }
        var data = shared.Other(δoutput.Data, Tensor.Product(shape));
        if (buffer is null || !ReferenceEquals(buffer, sharedInputGradient) || !ReferenceEquals(buffer.Data, data))
            buffer = sharedInputGradient = new Tensor(data, shape.ToArray());
        else buffer.Resize(shape);
        return buffer;
    }

    public override string ToString() => $"{Kind}({Arguments})";

    protected ShapeException ShapeError(string what, ReadOnlySpan<int> expected, ReadOnlySpan<int> got) =>
        new($"{this}: {what}: expected {Tensor.ShapeString(expected)}, got {Tensor.ShapeString(got)}");
}

/// <summary>
/// A layer whose kernels can apply an activation to the layer's output themselves (Conv2D, BatchNorm, Linear): the
/// execution plan passes the activation of the layer that follows as an argument instead of running that layer.
/// </summary>
public interface IActivationProducer
{
    /// <summary>activation(layer(input)).</summary>
    Tensor Forward(Tensor input, bool training, Activation activation);

    /// <summary>
    /// Backward of activation(layer(x)) after <see cref="Forward"/> with the same activation: writes the parameter
    /// gradients and returns δinput, or null when <paramref name="inputGradient"/> is false (that work is skipped).
    /// </summary>
    Tensor? Backward(Tensor δoutput, Activation activation, bool inputGradient);
}

/// <summary>
/// A layer (Conv2D, Linear) into whose output pass the evaluation plan folds a following batch normalisation:
/// y = activation(scale ⊙ (the layer without its bias) + shift) per output channel.
/// </summary>
public interface IFoldsBatchNorm
{
    Parameter? Bias { get; }
    Tensor ForwardScaled(Tensor input, float[] scale, float[] shift, Activation activation);
}

/// <summary>A tensor of the wrong shape reached a layer or loss.</summary>
public sealed class ShapeException(string message) : OngkoInputException(message);
