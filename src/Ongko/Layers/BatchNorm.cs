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
    /// <summary>Values per channel in one sample (H·W for BatchNorm2D, 1 for BatchNorm1D; set by Build).</summary>
    public int Spatial => spatial;
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
        Begin(input, training, activation, pooled: false);
        var output = Tensor.Reuse(ref this.output, input.Shape);
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

    /// <summary>Checks the input and keeps what the backward pass needs; counts a training batch.</summary>
    void Begin(Tensor input, bool training, Activation activation, bool pooled)
    {
        if (input.Length % (channels * spatial) != 0 || input.Rank < 2 || input[1] != channels)
            throw ShapeError("input", [-1, channels], input.Shape);
        batch = input[0];
        int perChannel = batch * spatial;
        if (training && perChannel < 2) throw new ShapeException($"{this}: training needs more than one value per channel (batch {batch})");
        (lastTraining, this.activation, lastInput, pooledForward) = (training, activation, input, pooled);
        if (batchMean.Length < channels) batchMean = new float[channels];
        if (inverseStd.Length < channels) inverseStd = new float[channels];
        if (training) batchesTracked.Span[0]++;
    }

    /// <summary>
    /// Training with the batch's statistics computed elsewhere (the training plan's convolution + batch norm step folds the normalisation into
    /// the convolution): counts the batch and, per channel from Σx and Σx² over <paramref name="perChannel"/> values, updates the running
    /// statistics and writes μ and 1/√(σ² + ε) (floats, as the planes pass uses them). This layer's own Backward does not follow.
    /// </summary>
    internal void SetBatchStatistics(ReadOnlySpan<double> sums, ReadOnlySpan<double> sumSquares, int perChannel, Span<float> mean, Span<float> inverseStd)
    {
        if (perChannel < 2) throw new ShapeException($"{this}: training needs more than one value per channel");
        batchesTracked.Span[0]++;
        lastTraining = true;
        for (int c = 0; c < channels; c++)
            BatchNormalization.StatisticsFromSums(sums[c], sumSquares[c], perChannel, c, momentum, epsilon, runningMean.Span, runningVariance.Span, mean, inverseStd);
    }

    // The max pooling of ForwardMaxPooled: its sweep over one plane, output, argmax and scratch planes (one channel's) per worker.
    ConvGeometry poolGeometry;
    Tensor? pooledOutput;
    int[] poolArgmax = [];
    float[][] poolScratch = [];
    bool pooledForward;   // the last Forward pooled: its backward pass is BackwardMaxPooled
    Action<int, int, int>? forwardPooledPlanes, backwardPooledPlanes;

    /// <summary>
    /// maxpool(activation(batchnorm(input))) over [N, C, H, W] (window <paramref name="poolKernel"/>, stride <paramref name="poolStride"/>, no
    /// padding, as MaxPool2D) in one pass per plane (<see cref="BatchNormMaxPool"/>): the unpooled output is never stored. The training
    /// plan runs BatchNorm2D, ReLU and MaxPool2D so; <see cref="BackwardMaxPooled"/> is its backward pass.
    /// </summary>
    public Tensor ForwardMaxPooled(Tensor input, bool training, Activation activation, int poolKernel, int poolStride)
    {
        if (spatial <= 1 || input.Rank != 4) throw new InvalidOperationException($"{this}: pooling in the same pass needs planes [N, C, H, W]");
        Begin(input, training, activation, pooled: true);
        poolGeometry = new ConvGeometry(channels, input[2], input[3], poolKernel, poolStride, 0);
        if (poolKernel < 1 || poolStride < 1 || poolKernel > input[2] || poolKernel > input[3])
            throw new ArgumentException($"{this}: pooling window {poolKernel} stride {poolStride} does not fit {input[2]}x{input[3]}");
        var pooled = Tensor.Reuse(ref pooledOutput, [batch, channels, poolGeometry.OutputHeight, poolGeometry.OutputWidth]);
        if (poolArgmax.Length < pooled.Length) poolArgmax = new int[pooled.Length];
        int workers = Threads.WorkerCount(channels);
        if (poolScratch.Length < workers || poolScratch[0].Length < batch * spatial)   // the backward pass's: a channel's planes
            poolScratch = Enumerable.Range(0, workers).Select(_ => new float[batch * spatial]).ToArray();
        Threads.ForRanges(channels, forwardPooledPlanes ??= ForwardPooledPlanes);
        return pooled;
    }

    void ForwardPooledPlanes(int worker, int first, int last) =>
        BatchNormMaxPool.ForwardPlanes(lastInput!.Span, Weight.Value.Span, Bias.Value.Span, batch, channels, poolGeometry, first, last,
                                       lastTraining, momentum, epsilon, activation, runningMean.Span, runningVariance.Span,
                                       batchMean, inverseStd, poolScratch[worker], pooledOutput!.Span, poolArgmax);

    /// <summary>The backward pass of <see cref="ForwardMaxPooled"/> from δ of the pooled output.</summary>
    public Tensor? BackwardMaxPooled(Tensor δpooled, Activation activation, bool inputGradient)
    {
        if (!pooledForward) throw new InvalidOperationException($"{this}: BackwardMaxPooled without ForwardMaxPooled");
        if (!δpooled.SameShape(pooledOutput!)) throw ShapeError("δoutput", pooledOutput!.Shape, δpooled.Shape);
        δinput = InputGradient(ref δinput, δpooled, lastInput!.Shape);
        (this.activation, δoutputSeen) = (activation, δpooled);
        Threads.ForRanges(channels, backwardPooledPlanes ??= BackwardPooledPlanes);
        δoutputSeen = null;
        return inputGradient ? δinput : null;
    }

    void BackwardPooledPlanes(int worker, int first, int last) =>
        BatchNormMaxPool.BackwardPlanes(δoutputSeen!.Span, poolArgmax, lastInput!.Span, Weight.Value.Span, Bias.Value.Span, batchMean, inverseStd,
                                        batch, channels, poolGeometry, first, last, lastTraining, activation, poolScratch[worker],
                                        δinput!.Span, Weight.Gradient.Span, Bias.Gradient.Span);

    void ForwardPlanes(int worker, int first, int last) =>
        BatchNormalization.ForwardPlanes(lastInput!.Span, Weight.Value.Span, Bias.Value.Span, batch, channels, spatial, first, last,
                                         lastTraining, momentum, epsilon, activation, runningMean.Span, runningVariance.Span,
                                         batchMean, inverseStd, output!.Span);

    public override Tensor Backward(Tensor δoutput) => Backward(δoutput, Activation.None, inputGradient: true)!;

    /// <summary>Backward of activation(batchnorm(x)); δinput is always computed (it costs little beside the sums).</summary>
    public Tensor? Backward(Tensor δoutput, Activation activation, bool inputGradient)
    {
        if (pooledForward) throw new InvalidOperationException($"{this}: the last Forward pooled in the same pass; its backward pass is BackwardMaxPooled");
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

    // x̂ and a ReLU's mask are recomputed from the input (still held by the layer before: its output lives until its next Forward).
    void BackwardPlanes(int worker, int first, int last) =>
        BatchNormalization.BackwardPlanes(δoutputSeen!.Span, lastInput!.Span, Weight.Value.Span, Bias.Value.Span, batchMean, inverseStd,
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
