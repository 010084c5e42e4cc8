using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Batch normalisation with PyTorch's semantics, shared by <see cref="BatchNorm2D"/> ([N, C, H, W], statistics
/// per channel over N·H·W) and <see cref="BatchNorm1D"/> ([N, F], per feature over N). Training uses the
/// batch's mean and biased variance and updates running = (1 − momentum)·running + momentum·batch (variance
/// unbiased); evaluation uses the running statistics. y = γ·(x − μ)/√(σ² + ε) + β.
/// The algorithms are <see cref="BatchNormalization"/>'s; this layer holds the parameters, the running statistics
/// and what the backward pass needs, and splits planes over the workers by channel.
/// </summary>
public abstract class BatchNorm : Layer, IActivationProducer
{
    readonly int channels;
    readonly float momentum, epsilon;
    Parameter? weight, bias;
    Tensor runningMean = new(0), runningVariance = new(0), batchesTracked = new(Array.Empty<int>());
    Tensor? output, δinput, normalized;   // normalized (x̂): rows only; planes recompute x̂ from the input in Backward
    Tensor? lastInput;
    float[] batchMean = [], inverseStd = [], rowWork = [];
    bool lastTraining;
    int batch, spatial;

    protected BatchNorm(int channels, float momentum, float epsilon)
    {
        if (channels < 1) throw new ArgumentException($"{GetType().Name}({channels}): channel count must be >= 1");
        if (momentum is < 0 or > 1 || epsilon <= 0) throw new ArgumentException($"{GetType().Name}: momentum must be in [0, 1] and eps > 0");
        (this.channels, this.momentum, this.epsilon) = (channels, momentum, epsilon);
    }

    public override string Arguments => $"{channels}";
    public Parameter Weight => weight ?? throw new InvalidOperationException($"{this} is not built yet");
    public Parameter Bias => bias ?? throw new InvalidOperationException($"{this} is not built yet");
    public Tensor RunningMean => runningMean;
    public Tensor RunningVariance => runningVariance;
    /// <summary>PyTorch's eps and momentum (running = (1 − momentum)·running + momentum·batch); read by export.</summary>
    public float Epsilon => epsilon;
    public float Momentum => momentum;
    public override IReadOnlyList<Parameter> Parameters => weight is null ? [] : [weight, bias!];
    /// <summary>PyTorch's num_batches_tracked (a 0-d counter; kept so strict load_state_dict finds every key).</summary>
    public override IReadOnlyList<(string Name, Tensor Value)> Buffers =>
        [("running_mean", runningMean), ("running_var", runningVariance), ("num_batches_tracked", batchesTracked)];

    /// <summary>Checks the sample shape and returns the number of values per channel in one sample.</summary>
    protected abstract int SpatialSize(int[] sampleShape);

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        spatial = SpatialSize(sampleShape);
        weight = new Parameter("weight", new Tensor(channels));
        weight.Value.Fill(1);
        bias = new Parameter("bias", new Tensor(channels));
        runningMean = new Tensor(channels);
        runningVariance = new Tensor(channels);
        runningVariance.Fill(1);
        return sampleShape;
    }

    // Per-call state for the cached worker delegates (no closure, so a step allocates nothing).
    Tensor? δoutputSeen;
    Activation activation;   // of the current call
    Action<int, int, int>? forwardPlanes, backwardPlanes;

    public override Tensor Forward(Tensor input, bool training) => Forward(input, training, Activation.None);

    /// <summary>activation(batchnorm(input)), in one pass.</summary>
    public Tensor Forward(Tensor input, bool training, Activation activation)
    {
        if (input.Length % (channels * spatial) != 0 || input.Rank < 2 || input[1] != channels)
            throw ShapeError("input", [-1, channels], input.Shape);
        batch = input[0];
        int perChannel = batch * spatial;
        if (training && perChannel < 2) throw new ShapeException($"{this}: training needs more than one value per channel (batch {batch})");
        lastTraining = training;
        this.activation = activation;
        var output = Tensor.Reuse(ref this.output, input.Shape);
        lastInput = input;
        if (batchMean.Length < channels) batchMean = new float[channels];
        if (inverseStd.Length < channels) inverseStd = new float[channels];
        if (training) batchesTracked.Span[0]++;
        if (spatial > 1) Threads.ForRanges(channels, forwardPlanes ??= ForwardPlanes);
        else
        {
            var xHat = Tensor.Reuse(ref normalized, input.Shape);
            if (rowWork.Length < 4 * channels) rowWork = new float[4 * channels];
            BatchNormalization.ForwardRows(input.Span, Weight.Value.Span, Bias.Value.Span, batch, channels, training, momentum, epsilon, activation,
                                           runningMean.Span, runningVariance.Span, rowWork, inverseStd, xHat.Span, output.Span);
        }
        return output;
    }

    void ForwardPlanes(int worker, int first, int last) =>
        BatchNormalization.ForwardPlanes(lastInput!.Span, Weight.Value.Span, Bias.Value.Span, batch, channels, spatial, first, last,
                                         lastTraining, momentum, epsilon, activation, runningMean.Span, runningVariance.Span,
                                         batchMean, inverseStd, output!.Span);

    public override Tensor Backward(Tensor δoutput) => Backward(δoutput, Activation.None, inputGradient: true)!;

    /// <summary>Backward of activation(batchnorm(x)); δinput is always computed (it costs little beside the sums).</summary>
    public Tensor? Backward(Tensor δoutput, Activation activation, bool inputGradient)
    {
        var outputTensor = output ?? throw new InvalidOperationException($"{this}: Backward before Forward");
        if (!δoutput.SameShape(outputTensor)) throw ShapeError("δoutput", outputTensor.Shape, δoutput.Shape);
        var δinput = InputGradient(ref this.δinput, δoutput, δoutput.Shape);
        this.activation = activation;
        if (spatial > 1)
        {
            δoutputSeen = δoutput;
            Threads.ForRanges(channels, backwardPlanes ??= BackwardPlanes);
            δoutputSeen = null;
        }
        else
            BatchNormalization.BackwardRows(δoutput.Span, normalized!.Span, outputTensor.Span, Weight.Value.Span, inverseStd, batch, channels,
                                            lastTraining, activation, rowWork, δinput.Span, Weight.Gradient.Span, Bias.Gradient.Span);
        return inputGradient ? δinput : null;
    }

    // x̂ is recomputed from the input (still held by the layer before: its output lives until its next Forward).
    void BackwardPlanes(int worker, int first, int last) =>
        BatchNormalization.BackwardPlanes(δoutputSeen!.Span, lastInput!.Span, output!.Span, Weight.Value.Span, batchMean, inverseStd,
                                          batch, channels, spatial, first, last, lastTraining, activation,
                                          δinput!.Span, Weight.Gradient.Span, Bias.Gradient.Span);
}

/// <summary>Batch normalisation over the channels of [N, C, H, W] (PyTorch's BatchNorm2d).</summary>
public sealed class BatchNorm2D(int channels, float momentum = 0.1f, float epsilon = 1e-5f) : BatchNorm(channels, momentum, epsilon)
{
    public override string Kind => "BatchNorm2D";

    protected override int SpatialSize(int[] sampleShape)
    {
        if (sampleShape.Length != 3) throw ShapeError("input sample shape (BatchNorm2D follows a convolution)", [-1, -1, -1], sampleShape);
        return sampleShape[1] * sampleShape[2];
    }
}

/// <summary>Batch normalisation over the features of [N, F] (PyTorch's BatchNorm1d).</summary>
public sealed class BatchNorm1D(int features, float momentum = 0.1f, float epsilon = 1e-5f) : BatchNorm(features, momentum, epsilon)
{
    public override string Kind => "BatchNorm1D";

    protected override int SpatialSize(int[] sampleShape)
    {
        if (sampleShape.Length != 1) throw ShapeError("input sample shape (BatchNorm1D follows Flatten or Linear)", [-1], sampleShape);
        return 1;
    }
}
