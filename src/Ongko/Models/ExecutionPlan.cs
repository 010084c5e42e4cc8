using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>
/// What a model actually runs: its declared layers compiled into steps. The compiler is the one place that
/// decides how layers combine:
/// <list type="bullet">
/// <item>a ReLU after a layer whose kernels can apply an activation (<see cref="IActivationProducer"/>: Conv2D, Linear,
///   BatchNorm) becomes an argument of that layer's forward and backward kernels, one step for both layers;</item>
/// <item>a final Softmax is left to the loss: <see cref="LogitSteps"/> steps produce the logits that the fused
///   softmax cross-entropy takes, and the training backward pass starts below the Softmax;</item>
/// <item>the training backward pass stops at the first step with parameters, which writes parameter gradients
///   only (nobody reads the gradient of the model's input);</item>
/// <item>each convolution's forward algorithm (im2col + GEMM or Winograd) is chosen per layer and batch
///   (<see cref="ChooseAlgorithm"/>, <see cref="ConvolutionStep"/>).</item>
/// </list>
/// Steps keep the declared layer indices they cover, so names ("layers.{i}.weight") never depend on the plan.
/// A model has a training plan and an evaluation plan; the evaluation plan also folds a BatchNorm into the
/// convolution or linear layer before it.
/// </summary>
public sealed class ExecutionPlan
{
    ExecutionPlan(IReadOnlyList<PlanStep> steps, int logitSteps, int firstTrainedStep, Layer[] layers) =>
        (Steps, LogitSteps, FirstTrainedStep, this.layers) = (steps, logitSteps, firstTrainedStep, layers);

    readonly Layer[] layers;   // an array: foreach over it allocates nothing
    readonly GradientBuffers gradients = new();
    int largestGradient;   // floats of the largest δinput the training backward pass writes: the largest input of a step above the first trained one

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
    public static ExecutionPlan ForTraining(IReadOnlyList<Layer> layers) => Compile(layers, foldBatchNorm: false);

    /// <summary>
    /// The training plan of a model whose first <paramref name="frozenLayers"/> declared layers are frozen (fine-tuning):
    /// those run as in evaluation (BatchNorm folded, its running statistics used and kept; Dropout off) as
    /// <see cref="FrozenStep"/>s, which have no parameters to the backward pass, so it stops at the first trained step after them.
    /// </summary>
    public static ExecutionPlan ForTraining(IReadOnlyList<Layer> layers, int frozenLayers) => Compile(layers, foldBatchNorm: false, frozenLayers);

    /// <summary>
    /// The plan evaluation and prediction run: the training plan's steps, except that a BatchNorm right after a
    /// Conv2D or Linear (and a ReLU after it) is folded into that layer's output pass (<see cref="FoldedBatchNormStep"/>).
    /// It has no backward pass through folded steps.
    /// </summary>
    public static ExecutionPlan ForEvaluation(IReadOnlyList<Layer> layers) => Compile(layers, foldBatchNorm: true);

    /// <summary>A batch that fills every worker: a convolution gets its own step when it has a faster algorithm at this size.</summary>
    internal const int LargeBatch = 1024;

    static ExecutionPlan Compile(IReadOnlyList<Layer> layers, bool foldBatchNorm, int frozenLayers = 0)
    {
        var steps = new List<PlanStep>();
        for (int i = 0; i < layers.Count; i++)
        {
            if (i < frozenLayers)
            {
                // A frozen step never covers a trained layer (a BatchNorm is folded only when it is frozen too; a ReLU has no state).
                var frozen = ForEvaluation(layers.Take(Math.Min(frozenLayers, layers.Count)).ToList()).Steps;
                foreach (var step in frozen) steps.Add(new FrozenStep(step));
                i = frozenLayers - 1;
                continue;
            }
            // The pooled first-layer steps compute no δinput in a training pass (a full backward pass rebuilds it the slow way), so they are
            // chosen only where no layer before has parameters: the training backward pass stops at them.
            bool first = !layers.Take(i).Any(layer => layer.Parameters.Count > 0);
            if (!foldBatchNorm && first && layers[i] is Conv2D { PoolsInTraining: true, Bias: null } foldedConv && layers[i + 1] is BatchNorm2D foldedNorm
                && PooledAfter(layers, i) is { } foldedPool)
            {
                // Training: a first layer without bias, its BatchNorm2D, ReLU and 2x2 max pooling: statistics from the input's patch moments,
                // the normalisation folded into the pooled pass, the backward pass from that pass's sums.
                bool relu = layers[i + 2] is ReLU;
                steps.Add(new ConvolutionBatchNormStep(i, foldedConv, foldedNorm, relu ? Activation.ReLU : Activation.None, foldedPool));
                i += relu ? 3 : 2;
            }
            else if (!foldBatchNorm && first && layers[i] is Conv2D { PoolsInTraining: true } pooledConv && PooledAfter(layers, i) is { } convolutionPool
                && layers[i + 1] is not BatchNorm)
            {
                // Training: a first layer with few input channels, its ReLU and a 2x2 stride-2 max pooling in one pass each way.
                bool relu = layers[i + 1] is ReLU;
                steps.Add(new PooledConvolutionStep(i, pooledConv, relu ? Activation.ReLU : Activation.None, convolutionPool));
                i += relu ? 2 : 1;
            }
            else if (layers[i] is Conv2D conv && (ChooseAlgorithm(conv, LargeBatch) != ConvolutionAlgorithm.Im2ColGemm
                                             || (foldBatchNorm && ChooseAlgorithm(conv, LargeBatch, maxPooled: true) != ConvolutionAlgorithm.Im2ColGemm
                                                 && PooledAfter(layers, i) is not null)))
            {
                // Its own step, which picks the algorithm per batch; the evaluation plan folds a BatchNorm after it, and a
                // 2x2 stride-2 max pooling after that goes into Winograd's or the direct loops' output pass.
                int next = i + 1;
                var batchNorm = foldBatchNorm && next < layers.Count ? layers[next] as BatchNorm : null;
                if (batchNorm is not null) next++;
                bool relu = next < layers.Count && layers[next] is ReLU;
                if (relu) next++;
                var pool = foldBatchNorm ? PooledAfter(layers, i) : null;
                if (pool is not null) next++;
                steps.Add(new ConvolutionStep(i, conv, batchNorm, relu ? Activation.ReLU : Activation.None, pool));
                i = next - 1;
            }
            else if (!foldBatchNorm && layers[i] is BatchNorm2D { Spatial: >= FusedPoolingMinPixels } planes
                     && PooledAfter(layers, i - 1, convolution: false) is { } pooling)
            {
                // Training: the BatchNorm2D, a ReLU and the MaxPool2D in one pass per plane (the unpooled output never stored).
                bool relu = layers[i + 1] is ReLU;
                steps.Add(new BatchNormMaxPoolStep(i, planes, relu ? Activation.ReLU : Activation.None, pooling));
                i += relu ? 2 : 1;
            }
            else if (foldBatchNorm && layers[i] is IFoldsBatchNorm && i + 1 < layers.Count && layers[i + 1] is BatchNorm batchNorm)
            {
                bool relu = i + 2 < layers.Count && layers[i + 2] is ReLU;
                steps.Add(new FoldedBatchNormStep(i, layers[i], batchNorm, relu ? Activation.ReLU : Activation.None));
                i += relu ? 2 : 1;
            }
            else if (layers[i] is IActivationProducer && i + 1 < layers.Count && layers[i + 1] is ReLU)
            {
                steps.Add(new ActivatedStep(i, layers[i], Activation.ReLU));
                i++;
            }
            else steps.Add(new LayerStep(i, layers[i]));
        }
        int logitSteps = EndsWithSoftmaxLayer(layers) ? steps.Count - 1 : steps.Count;
        int firstTrained = steps.FindIndex(step => step.HasParameters);
        return new ExecutionPlan(steps, logitSteps, firstTrained < 0 ? steps.Count : firstTrained, layers.ToArray());
    }

    /// <summary>
    /// The algorithm of a built convolution's forward pass on <paramref name="batch"/> images (both plans): direct loops for
    /// stride-1 layers with at most 4 input channels when a 2x2 max pooling follows in the same pass (<paramref name="maxPooled"/>,
    /// evaluation; measured: without the pooling they are no faster than im2col with its GEMM of K = 9 or 27), Winograd
    /// F(2x2, 3x3) for 3x3 stride-1 layers with enough input channels to fill its 16 GEMMs (K = C) and enough tiles in the
    /// batch to fill their columns (measured: a single 7x7 image per GEMM loses to im2col), im2col + GEMM otherwise.
    /// The choice does not depend on the thread count, so neither do the results.
    /// </summary>
    public static ConvolutionAlgorithm ChooseAlgorithm(Conv2D conv, int batch, bool maxPooled = false)
    {
        var g = conv.Geometry;
        if (DirectConvolution.Supports(g)) return maxPooled ? ConvolutionAlgorithm.Direct : ConvolutionAlgorithm.Im2ColGemm;
        if (!Winograd.Supports(g) || g.Channels < WinogradMinChannels) return ConvolutionAlgorithm.Im2ColGemm;
        return (long)batch * Winograd.TilesPerImage(g) >= WinogradMinTiles ? ConvolutionAlgorithm.Winograd : ConvolutionAlgorithm.Im2ColGemm;
    }

    /// <summary>
    /// Smaller planes than this keep BatchNorm2D and MaxPool2D apart in training: measured (thread CPU, numta28-best, batch 128), the
    /// fused pass saves ~1.3 ms at 28x28 but loses ~0.4 ms at 14x14 and gains nothing at 7x7, where the separate passes run from cache anyway.
    /// </summary>
    public const int FusedPoolingMinPixels = 256;

    /// <summary>Fewer input channels than this make Winograd's GEMMs too thin (K = C) to beat one im2col GEMM.</summary>
    public const int WinogradMinChannels = 16;

    /// <summary>Fewer tiles in a batch than this make Winograd's GEMMs too narrow (N = tiles).</summary>
    public const int WinogradMinTiles = 96;

    /// <summary>
    /// A 2x2 stride-2 MaxPool2D after the convolution at <paramref name="i"/> and its BatchNorm and ReLU, if any: it can run in the
    /// convolution's output pass. Without <paramref name="convolution"/>: any MaxPool2D right after the BatchNorm at i + 1 and a ReLU.
    /// </summary>
    static MaxPool2D? PooledAfter(IReadOnlyList<Layer> layers, int i, bool convolution = true)
    {
        int next = i + 1;
        if (next < layers.Count && layers[next] is BatchNorm) next++;
        else if (!convolution) return null;
        if (next < layers.Count && layers[next] is ReLU) next++;
        if (next >= layers.Count || layers[next] is not MaxPool2D pool) return null;
        return !convolution || pool is { KernelSize: 2, Stride: 2 } ? pool : null;
    }

    /// <summary>Runs the steps on a batch; the logits (<paramref name="toLogits"/>) or the model's output.</summary>
    public Tensor Forward(Tensor input, bool training, bool toLogits)
    {
        if (!training && input.Rank > 0 && input[0] < Threads.Count)
        {
            // Fewer images than cores in evaluation (batch-1 latency): handing each step's small pieces to the workers
            // costs more than they give (measured), so the ranges run on the calling thread (same ranges, same results).
            using var inline = Threads.Inline();
            return Run(input, training, toLogits);
        }
        return Run(input, training, toLogits);
    }

    Tensor Run(Tensor input, bool training, bool toLogits)
    {
        var x = input;
        int count = toLogits ? LogitSteps : Steps.Count;
        for (int i = 0; i < count; i++)
        {
            if (training && NeedsInputGradient(i)) largestGradient = Math.Max(largestGradient, x.Length);
            x = Steps[i].Forward(x, training);
        }
        return x;
    }

    /// <summary>Back-propagates δ of the output (or of the logits) through every step and returns δinput.</summary>
    public Tensor Backward(Tensor δ, bool fromLogits)
    {
        for (int i = (fromLogits ? LogitSteps : Steps.Count) - 1; i >= 0; i--) δ = Steps[i].Backward(δ, inputGradient: true)!;
        return δ;
    }

    /// <summary>
    /// The training backward pass: δ of the logits to every parameter gradient, no further. Nobody reads the δ between
    /// steps afterwards, so the steps share two δ buffers (<see cref="GradientBuffers"/>) instead of one each.
    /// </summary>
    public void BackwardParameters(Tensor δlogits)
    {
        gradients.Reserve(largestGradient);
        foreach (var layer in layers) layer.SharedGradients = gradients;
        try
        {
            var δ = δlogits;
            for (int i = LogitSteps - 1; i >= FirstTrainedStep; i--) δ = Steps[i].Backward(δ, NeedsInputGradient(i))!;
        }
        finally
        {
            foreach (var layer in layers) layer.SharedGradients = null;
        }
    }

    /// <summary>Floats held by the shared δ buffers of the training backward pass.</summary>
    internal long SharedGradientLength => gradients.Length;

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

/// <summary>
/// Training: a BatchNorm2D, optionally a ReLU, and the MaxPool2D after them as one pass per plane (<see cref="BatchNorm.ForwardMaxPooled"/>,
/// <see cref="BatchNormMaxPool"/>): the same results as the three layers, without storing the unpooled output or its δ.
/// </summary>
public sealed class BatchNormMaxPoolStep : PlanStep
{
    internal BatchNormMaxPoolStep(int index, BatchNorm2D batchNorm, Activation activation, MaxPool2D maxPool)
        : base(index, activation == Activation.None ? 2 : 3) => (BatchNorm, Activation, MaxPool) = (batchNorm, activation, maxPool);

    public BatchNorm2D BatchNorm { get; }
    public Activation Activation { get; }
    public MaxPool2D MaxPool { get; }
    public override bool HasParameters => true;
    public override Tensor Forward(Tensor input, bool training) => BatchNorm.ForwardMaxPooled(input, training, Activation, MaxPool.KernelSize, MaxPool.Stride);
    public override Tensor? Backward(Tensor δoutput, bool inputGradient) => BatchNorm.BackwardMaxPooled(δoutput, Activation, inputGradient);
    public override string ToString() => $"{BatchNorm}" + (Activation == Activation.None ? "" : $" + {Activation}") + $" + {MaxPool}";
}

/// <summary>
/// Training: a Conv2D with few input channels (<see cref="Conv2D.PoolsInTraining"/>), optionally a ReLU, and a 2x2 stride-2 MaxPool2D after
/// them as one pass each way (<see cref="Conv2D.ForwardPooled(Tensor, Activation)"/>, <see cref="Conv2D.BackwardPooled"/>, <see cref="PooledConvolution"/>): the
/// layers' results (up to summation order) without storing the unpooled output or its δ. Outside training it runs the layers one by one.
/// </summary>
public sealed class PooledConvolutionStep : PlanStep
{
    internal PooledConvolutionStep(int index, Conv2D conv, Activation activation, MaxPool2D maxPool)
        : base(index, activation == Activation.None ? 2 : 3) => (Conv, Activation, MaxPool) = (conv, activation, maxPool);

    public Conv2D Conv { get; }
    public Activation Activation { get; }
    public MaxPool2D MaxPool { get; }
    public override bool HasParameters => true;

    public override Tensor Forward(Tensor input, bool training) =>
        training ? Conv.ForwardPooled(input, Activation) : MaxPool.Forward(Conv.Forward(input, training: false, Activation), training: false);

    public override Tensor? Backward(Tensor δoutput, bool inputGradient) => Conv.BackwardPooled(δoutput, inputGradient);
    public override string ToString() => $"{Conv}" + (Activation == Activation.None ? "" : $" + {Activation}") + $" + {MaxPool} [pooled pass]";
}

/// <summary>
/// Evaluation only: a Conv2D or Linear, the BatchNorm after it and optionally a ReLU, as one pass: the batch
/// normalisation (running statistics) becomes a per-channel scale and shift applied where the layer adds its
/// bias. Scale and shift are recomputed from the current parameters on every call (O(channels)), so loading or
/// training weights never leaves them stale.
/// </summary>
public sealed class FoldedBatchNormStep : PlanStep
{
    readonly IFoldsBatchNorm producer;
    readonly float[] scale, shift;

    internal FoldedBatchNormStep(int index, Layer layer, BatchNorm batchNorm, Activation activation)
        : base(index, activation == Activation.None ? 2 : 3)
    {
        (Layer, BatchNorm, Activation) = (layer, batchNorm, activation);
        producer = (IFoldsBatchNorm)layer;
        scale = new float[batchNorm.Weight.Value.Length];
        shift = new float[scale.Length];
    }

    public Layer Layer { get; }
    public BatchNorm BatchNorm { get; }
    public Activation Activation { get; }
    public override bool HasParameters => true;

    public override Tensor Forward(Tensor input, bool training)
    {
        if (training) throw new InvalidOperationException($"{this}: a folded BatchNorm runs in evaluation only");
        BatchNormalization.FoldIntoScaleShift(BatchNorm.Weight.Value.Span, BatchNorm.Bias.Value.Span, BatchNorm.RunningMean.Span,
                                              BatchNorm.RunningVariance.Span, producer.Bias is null ? default : producer.Bias.Value.Span,
                                              scale.Length, BatchNorm.Epsilon, scale, shift);
        return producer.ForwardScaled(input, scale, shift, Activation);
    }

    public override Tensor? Backward(Tensor δoutput, bool inputGradient) =>
        throw new InvalidOperationException($"{this}: the evaluation plan folds BatchNorm and has no backward pass; run Forward with training: true for gradients");

    public override string ToString() => $"{Layer} + {BatchNorm} folded" + (Activation == Activation.None ? "" : $" + {Activation}");
}

/// <summary>
/// A Conv2D computed by the algorithm the plan chooses for it and the batch at hand (<see cref="ExecutionPlan.ChooseAlgorithm"/>),
/// and the ReLU after it. In the evaluation plan a BatchNorm after the convolution is folded into its output pass (as in
/// <see cref="FoldedBatchNormStep"/>), and a 2x2 stride-2 MaxPool2D after that is computed in Winograd's or the direct loops' output pass
/// (by the pooling layer after an im2col convolution). Without a folded BatchNorm or pooling it has the layer's backward
/// pass (im2col + GEMM, from the cached input and output, whichever algorithm computed them).
/// </summary>
public sealed class ConvolutionStep : PlanStep
{
    readonly float[]? scale, shift;

    internal ConvolutionStep(int index, Conv2D conv, BatchNorm? batchNorm, Activation activation, MaxPool2D? maxPool = null)
        : base(index, 1 + (batchNorm is null ? 0 : 1) + (activation == Activation.None ? 0 : 1) + (maxPool is null ? 0 : 1))
    {
        (Conv, BatchNorm, Activation, MaxPool) = (conv, batchNorm, activation, maxPool);
        if (batchNorm is not null) (scale, shift) = (new float[conv.OutChannels], new float[conv.OutChannels]);
    }

    public Conv2D Conv { get; }
    public BatchNorm? BatchNorm { get; }
    public Activation Activation { get; }
    public MaxPool2D? MaxPool { get; }

    /// <summary>The algorithm for a batch of <paramref name="batch"/> images.</summary>
    public ConvolutionAlgorithm Algorithm(int batch) => ExecutionPlan.ChooseAlgorithm(Conv, batch, MaxPool is not null);
    public override bool HasParameters => true;

    public override Tensor Forward(Tensor input, bool training)
    {
        var algorithm = Algorithm(input.Rank > 0 ? input[0] : 1);
        if (BatchNorm is null && MaxPool is null) return Conv.Forward(input, training, Activation, algorithm);
        if (training) throw new InvalidOperationException($"{this}: a folded BatchNorm or pooling runs in evaluation only");
        if (BatchNorm is not null)
            BatchNormalization.FoldIntoScaleShift(BatchNorm.Weight.Value.Span, BatchNorm.Bias.Value.Span, BatchNorm.RunningMean.Span,
                                                  BatchNorm.RunningVariance.Span, Conv.Bias is null ? default : Conv.Bias.Value.Span,
                                                  scale!.Length, BatchNorm.Epsilon, scale, shift!);
        if (MaxPool is not null && algorithm != ConvolutionAlgorithm.Im2ColGemm) return Conv.ForwardMaxPooled(input, scale, shift, Activation, algorithm);
        var y = scale is null ? Conv.Forward(input, training: false, Activation, algorithm) : Conv.ForwardScaled(input, scale, shift!, Activation, algorithm);
        return MaxPool is null ? y : MaxPool.Forward(y, training: false);
    }

    /// <summary>The backward pass's algorithm: Winograd after a Winograd forward where its backward applies (padding ≤ 2), else im2col + GEMM.</summary>
    public ConvolutionAlgorithm BackwardAlgorithm(int batch) =>
        Algorithm(batch) == ConvolutionAlgorithm.Winograd && WinogradBackward.Supports(Conv.Geometry) ? ConvolutionAlgorithm.Winograd : ConvolutionAlgorithm.Im2ColGemm;

    public override Tensor? Backward(Tensor δoutput, bool inputGradient) => BatchNorm is null && MaxPool is null
        ? Conv.Backward(δoutput, Activation, inputGradient, BackwardAlgorithm(δoutput.Rank > 0 ? δoutput[0] : 1))
        : throw new InvalidOperationException($"{this}: the evaluation plan folds BatchNorm and pooling and has no backward pass; run Forward with training: true for gradients");

    public override string ToString() =>
        $"{Conv} [{Algorithm(ExecutionPlan.LargeBatch)}]" + (BatchNorm is null ? "" : $" + {BatchNorm} folded")
        + (Activation == Activation.None ? "" : $" + {Activation}") + (MaxPool is null ? "" : $" + {MaxPool}");
}
