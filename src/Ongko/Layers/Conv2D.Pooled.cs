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

    /// <summary>True when <see cref="ForwardPooled"/> takes this built layer (stride 1, at most 4 input channels, kernel ≤ 7).</summary>
    public bool PoolsInTraining => weight is not null && PooledConvolution.Supports(geometry);

    /// <summary>
    /// Training: maxpool2x2(activation(conv(input))) ([N, OC, OH/2, OW/2], as MaxPool2D(2, 2) after the layer) in one pass; the unpooled
    /// output is never stored. <see cref="BackwardPooled"/> is its backward pass.
    /// </summary>
    public Tensor ForwardPooled(Tensor input, Activation activation)
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
            pooledPadded = Enumerable.Range(0, workers).Select(_ => new float[PooledConvolution.PaddedImageSize(g)]).ToArray();
        Threads.ForRanges(batch, forwardPooledImages ??= ForwardPooledImages);
        pooledTraining = true;
        return pooled;
    }

    void ForwardPooledImages(int worker, int start, int end)
    {
        var g = geometry;
        int imageSize = g.Channels * g.InputPixels, pooledSize = outChannels * (g.OutputHeight / 2) * (g.OutputWidth / 2);
        PooledConvolution.Forward(pooledKernel, input!.Data.AsSpan(start * imageSize, (end - start) * imageSize), weight!.Value.Span,
                                  bias is null ? default : bias.Value.Span, end - start, outChannels, g, activation, pooledPadded[worker],
                                  pooledTrainingOutput!.Data.AsSpan(start * pooledSize, (end - start) * pooledSize),
                                  poolCodes.AsSpan(start * pooledSize, (end - start) * pooledSize));
    }

    /// <summary>
    /// The backward pass of <see cref="ForwardPooled"/> from δ of the pooled output: weight and bias gradients straight from the pooled δ and
    /// the winners (per worker, summed in a fixed order). With <paramref name="inputGradient"/> (a trained layer below this one, or a full
    /// backward pass) δ of the full output is then rebuilt and the im2col backward pass computes δx.
    /// </summary>
    public Tensor? BackwardPooled(Tensor δpooled, bool inputGradient)
    {
        if (!pooledTraining) throw new InvalidOperationException($"{this}: BackwardPooled without ForwardPooled");
        if (!δpooled.SameShape(pooledTrainingOutput!)) throw ShapeError("δoutput", pooledTrainingOutput!.Shape, δpooled.Shape);
        var g = geometry;
        int batch = input![0], workers = Threads.WorkerCount(batch);
        if (pooledBands.Length < workers)
        {
            pooledBands = Enumerable.Range(0, workers).Select(_ => new float[PooledConvolution.BandSize(g, outChannels)]).ToArray();
            pooledAccumulators = Enumerable.Range(0, workers).Select(_ => new float[PooledConvolution.AccumulatorSize(g, outChannels)]).ToArray();
            pooledδWeight = Enumerable.Range(0, workers).Select(_ => new double[outChannels * g.PatchSize]).ToArray();
            pooledδBias = Enumerable.Range(0, workers).Select(_ => new double[outChannels]).ToArray();
        }
        pooledKernel = GemmTuning.Current.Kernel;
        δpooledSeen = δpooled;
        Threads.ForRanges(batch, backwardPooledImages ??= BackwardPooledImages);
        δpooledSeen = null;
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
                                   bias is null ? default : pooledδBias[worker]);
    }

    float[] savedδWeight = [], savedδBias = [];

    /// <summary>
    /// δx: δ of the full output from the pooled δ and the winners (zero elsewhere), then the im2col backward pass. The parameter gradients
    /// stay those of the pooled pass (bit for bit the training pass's, whether or not δx is asked for).
    /// </summary>
    Tensor? BackwardUnpooled(Tensor δpooled)
    {
        if (savedδWeight.Length == 0) (savedδWeight, savedδBias) = (new float[Weight.Gradient.Length], new float[bias?.Gradient.Length ?? 0]);
        Weight.Gradient.Span.CopyTo(savedδWeight);
        bias?.Gradient.Span.CopyTo(savedδBias);
        try { return BackwardUnpooledIm2Col(δpooled); }
        finally
        {
            savedδWeight.CopyTo(Weight.Gradient.Span);
            if (bias is not null) savedδBias.CopyTo(bias.Gradient.Span);
        }
    }

    Tensor? BackwardUnpooledIm2Col(Tensor δpooled)
    {
        var g = geometry;
        int batch = input![0], pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2;
        var δy = Tensor.Reuse(ref unpooledGradient, [batch, outChannels, g.OutputHeight, g.OutputWidth]);
        var δ = δy.Span;
        δ.Clear();
        var δp = δpooled.Span;
        for (int plane = 0; plane < batch * outChannels; plane++)
            for (int py = 0; py < pooledHeight; py++)
                for (int px = 0; px < pooledWidth; px++)
                {
                    int at = (plane * pooledHeight + py) * pooledWidth + px, code = poolCodes[at];
                    if (code < PooledConvolution.NoGradient) δ[plane * g.OutputPixels + (2 * py + code / 2) * g.OutputWidth + 2 * px + code % 2] = δp[at];
                }
        // δy is already masked: the im2col pass runs without an activation, so it never reads the (unstored) output.
        var savedOutput = output;
        (output, pooledTraining) = (δy, false);
        try { return Backward(δy, Activation.None, inputGradient: true, ConvolutionAlgorithm.Im2ColGemm); }
        finally { (output, pooledTraining) = (savedOutput, true); }
    }
}
