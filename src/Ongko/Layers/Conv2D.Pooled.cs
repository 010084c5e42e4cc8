using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Training with the activation and a 2x2 stride-2 max pooling in the convolution's own passes (<see cref="PooledConvolution"/>): the
/// training plan runs a first layer with few input channels, its ReLU and the MaxPool2D after it so (model3's 3→16 at 48x48).
/// </summary>
public sealed partial class Conv2D
{
    Tensor? pooledTrainingOutput, unpooledGradient;   // [N, OC, OH/2, OW/2]; δ of the full output (only for an input gradient)
    byte[] poolCodes = [];                            // per pooled value: the window position that won, or PooledConvolution.NoGradient
    float[][] pooledPadded = [], pooledBands = [], pooledAccumulators = [];   // one per worker
    double[][] pooledδWeight = [], pooledδBias = [];
    GemmKernel pooledKernel;                          // the calling thread's kernel choice, for the workers
    bool pooledTraining;                              // the last Forward was ForwardPooled: BackwardPooled follows
    Tensor? δpooledSeen;
    Action<int, int, int>? forwardPooledImages, backwardPooledImages;

    /// <summary>True when <see cref="ForwardPooled(Tensor, Activation)"/> takes this built layer (stride 1, at most 4 input channels, kernel ≤ 7).</summary>
    public bool PoolsInTraining => weight is not null && PooledConvolution.Supports(geometry);

    /// <summary>
    /// Training: maxpool2x2(activation(conv(input))) ([N, OC, OH/2, OW/2], as MaxPool2D(2, 2) after the layer) in one pass; the unpooled
    /// output is never stored. <see cref="BackwardPooled"/> is its backward pass.
    /// </summary>
    public Tensor ForwardPooled(Tensor input, Activation activation) => ForwardPooled(input, activation, null, null);

    /// <summary>
    /// <see cref="ForwardPooled(Tensor, Activation)"/> of activation(scale ⊙ conv(input) + shift) per output channel (a batch normalisation
    /// with the batch's statistics folded in by the training plan; the layer's bias is not used).
    /// </summary>
    public Tensor ForwardPooled(Tensor input, Activation activation, float[]? scale, float[]? shift)
    {
        (foldedScale, foldedShift) = (scale, shift);
        try { return ForwardPooledBy(input, activation); }
        finally { (foldedScale, foldedShift) = (null, null); }
    }

    Tensor ForwardPooledBy(Tensor input, Activation activation)
    {
        var g = geometry;
        if (!PoolsInTraining) throw new InvalidOperationException($"{this}: pooling in the convolution's pass needs stride 1, at most {PooledConvolution.MaxChannels} input channels and kernel <= 7");
        if (input.Rank != 4 || input[1] != g.Channels || input[2] != g.Height || input[3] != g.Width)
            throw ShapeError("input", [-1, g.Channels, g.Height, g.Width], input.Shape);
        int batch = input[0];
        (this.input, this.activation, pooledKernel) = (input, activation, GemmTuning.Current.Kernel);
        var pooled = Tensor.Reuse(ref pooledTrainingOutput, [batch, outChannels, g.OutputHeight / 2, g.OutputWidth / 2]);
        if (poolCodes.Length < pooled.Length) poolCodes = new byte[pooled.Length];
        int workers = Threads.WorkerCount(batch);
        if (pooledPadded.Length < workers)
            pooledPadded = Threads.PerWorker<float>(workers, PooledConvolution.PaddedImageSize(g));
        Threads.ForRanges(batch, forwardPooledImages ??= ForwardPooledImages);
        pooledTraining = true;
        return pooled;
    }

    void ForwardPooledImages(int worker, int start, int end)
    {
        var g = geometry;
        int imageSize = g.Channels * g.InputPixels, pooledSize = outChannels * (g.OutputHeight / 2) * (g.OutputWidth / 2);
        PooledConvolution.Forward(pooledKernel, input!.Data.AsSpan(start * imageSize, (end - start) * imageSize), weight!.Value.Span,
                                  foldedScale, foldedShift ?? (bias is null ? default : bias.Value.Span), end - start, outChannels, g, activation, pooledPadded[worker],
                                  pooledTrainingOutput!.Data.AsSpan(start * pooledSize, (end - start) * pooledSize),
                                  poolCodes.AsSpan(start * pooledSize, (end - start) * pooledSize));
    }

    /// <summary>
    /// The backward pass of <see cref="ForwardPooled(Tensor, Activation)"/> from δ of the pooled output: weight and bias gradients straight from the pooled δ and
    /// the winners (per worker, summed in a fixed order). With <paramref name="inputGradient"/> (a trained layer below this one, or a full
    /// backward pass) δ of the full output is then rebuilt and the im2col backward pass computes δx.
    /// </summary>
    public Tensor? BackwardPooled(Tensor δpooled, bool inputGradient)
    {
        if (!pooledTraining) throw new InvalidOperationException($"{this}: BackwardPooled without ForwardPooled");
        if (!δpooled.SameShape(pooledTrainingOutput!)) throw ShapeError("δoutput", pooledTrainingOutput!.Shape, δpooled.Shape);
        int workers = PooledSums(δpooled, withBias: bias is not null);
        // The workers' partial sums in a fixed order: the same result on every run.
        var δweight = Weight.Gradient.Span;
        for (int i = 0; i < δweight.Length; i++)
        {
            double sum = 0;
            for (int worker = 0; worker < workers; worker++) sum += pooledδWeight[worker][i];
            δweight[i] = (float)sum;
        }
        if (bias is not null)
        {
            var δbias = bias.Gradient.Span;
            for (int oc = 0; oc < outChannels; oc++)
            {
                double sum = 0;
                for (int worker = 0; worker < workers; worker++) sum += pooledδBias[worker][oc];
                δbias[oc] = (float)sum;
            }
        }
        return inputGradient ? BackwardUnpooled(δpooled) : null;
    }

    /// <summary>
    /// The sums of the pooled backward pass after <see cref="ForwardPooled(Tensor, Activation, float[], float[])"/>, in double, workers' partials
    /// added in a fixed order: D[oc, t] = Σ δz·X[p, t] and Σ δz per channel (δz: δ of the pooled output at the winners, where the activation
    /// passes it). The training plan turns them into a folded batch normalisation's gradients.
    /// </summary>
    /// <param name="sums">[OC, C·k·k] D, written</param> <param name="δzSums">[OC], written</param>
    internal void BackwardPooledSums(Tensor δpooled, Span<double> sums, Span<double> δzSums)
    {
        if (!pooledTraining) throw new InvalidOperationException($"{this}: BackwardPooledSums without ForwardPooled");
        if (!δpooled.SameShape(pooledTrainingOutput!)) throw ShapeError("δoutput", pooledTrainingOutput!.Shape, δpooled.Shape);
        int workers = PooledSums(δpooled, withBias: true);
        sums.Clear();
        δzSums.Clear();
        for (int worker = 0; worker < workers; worker++)
        {
            for (int i = 0; i < outChannels * geometry.PatchSize; i++) sums[i] += pooledδWeight[worker][i];
            for (int oc = 0; oc < outChannels; oc++) δzSums[oc] += pooledδBias[worker][oc];
        }
    }

    bool pooledSumsWithBias;

    /// <summary>Runs the pooled backward kernel over the workers into their partial sums; returns the worker count.</summary>
    int PooledSums(Tensor δpooled, bool withBias)
    {
        var g = geometry;
        int batch = input![0], workers = Threads.WorkerCount(batch);
        if (pooledBands.Length < workers)
        {
            pooledBands = Threads.PerWorker<float>(workers, PooledConvolution.BandSize(g, outChannels));
            pooledAccumulators = Threads.PerWorker<float>(workers, PooledConvolution.AccumulatorSize(g, outChannels));
            pooledδWeight = Threads.PerWorker<double>(workers, outChannels * g.PatchSize);
            pooledδBias = Threads.PerWorker<double>(workers, outChannels);
        }
        (pooledKernel, δpooledSeen, pooledSumsWithBias) = (GemmTuning.Current.Kernel, δpooled, withBias);
        Threads.ForRanges(batch, backwardPooledImages ??= BackwardPooledImages);
        δpooledSeen = null;
        return workers;
    }

    void BackwardPooledImages(int worker, int start, int end)
    {
        var g = geometry;
        int imageSize = g.Channels * g.InputPixels, pooledSize = outChannels * (g.OutputHeight / 2) * (g.OutputWidth / 2);
        pooledδWeight[worker].AsSpan().Clear();
        pooledδBias[worker].AsSpan().Clear();
        PooledConvolution.Backward(pooledKernel, δpooledSeen!.Data.AsSpan(start * pooledSize, (end - start) * pooledSize),
                                   poolCodes.AsSpan(start * pooledSize, (end - start) * pooledSize),
                                   input!.Data.AsSpan(start * imageSize, (end - start) * imageSize), end - start, outChannels, g,
                                   pooledPadded[worker], pooledBands[worker], pooledAccumulators[worker], pooledδWeight[worker],
                                   pooledSumsWithBias ? pooledδBias[worker] : default);
    }

    float[] savedδWeight = [], savedδBias = [];

    /// <summary>
    /// δx: δ of the full output from the pooled δ and the winners (zero elsewhere), then the im2col backward pass. The parameter gradients
    /// stay those of the pooled pass (bit for bit the training pass's, whether or not δx is asked for).
    /// </summary>
    Tensor? BackwardUnpooled(Tensor δpooled) => BackwardUnpooledIm2Col(δpooled);

    /// <summary>The codes of the last <see cref="ForwardPooled(Tensor, Activation)"/>: per pooled value the winning window position, or PooledConvolution.NoGradient.</summary>
    internal ReadOnlySpan<byte> PoolCodes => pooledTraining ? poolCodes.AsSpan(0, pooledTrainingOutput!.Length) : throw new InvalidOperationException($"{this}: no pooled forward pass");

    /// <summary>
    /// δx for a given δ of the full (unpooled) output, after a pooled forward pass: the im2col backward pass without an activation, the parameter
    /// gradients and the pooled state kept (for a full backward pass through a pooled step; the training pass needs no δx of a first layer).
    /// </summary>
    internal Tensor PooledInputGradient(Tensor δy)
    {
        if (savedδWeight.Length == 0) (savedδWeight, savedδBias) = (new float[Weight.Gradient.Length], new float[bias?.Gradient.Length ?? 0]);
        Weight.Gradient.Span.CopyTo(savedδWeight);
        bias?.Gradient.Span.CopyTo(savedδBias);
        var savedOutput = output;
        (output, pooledTraining) = (δy, false);   // δy is already masked: the im2col pass runs without an activation and never reads the output
        try { return Backward(δy, Activation.None, inputGradient: true, ConvolutionAlgorithm.Im2ColGemm)!; }
        finally
        {
            (output, pooledTraining) = (savedOutput, true);
            savedδWeight.CopyTo(Weight.Gradient.Span);
            if (bias is not null) savedδBias.CopyTo(bias.Gradient.Span);
        }
    }

    Tensor? BackwardUnpooledIm2Col(Tensor δpooled) => PooledInputGradient(UnpooledGradient(δpooled));

    /// <summary>
    /// δ of the full output [N, OC, OH, OW] after a pooled forward pass: each pooled δ at its window's winner where the activation passed it, zero
    /// elsewhere (in a buffer of the layer's, for a full backward pass only).
    /// </summary>
    internal Tensor UnpooledGradient(Tensor δpooled)
    {
        var g = geometry;
        int batch = input![0], pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2;
        var codes = PoolCodes;
        var δy = Tensor.Reuse(ref unpooledGradient, [batch, outChannels, g.OutputHeight, g.OutputWidth]);
        var δ = δy.Span;
        δ.Clear();
        var δp = δpooled.Span;
        for (int plane = 0; plane < batch * outChannels; plane++)
            for (int py = 0; py < pooledHeight; py++)
                for (int px = 0; px < pooledWidth; px++)
                {
                    int at = (plane * pooledHeight + py) * pooledWidth + px, code = codes[at];
                    if (code < PooledConvolution.NoGradient) δ[plane * g.OutputPixels + (2 * py + code / 2) * g.OutputWidth + 2 * px + code % 2] = δp[at];
                }
        return δy;
    }
}
