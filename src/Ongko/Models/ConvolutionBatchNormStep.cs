using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Models;

/// <summary>
/// Training: a Conv2D without bias and with few input channels (<see cref="Conv2D.PoolsInTraining"/>), the BatchNorm2D after it, optionally a
/// ReLU, and a 2x2 stride-2 MaxPool2D (numta28-best's first block) as one pass each way, without the unpooled output or any δ of its size:
/// <list type="bullet">
/// <item>statistics: y = X·w per channel (X: the zero-padded input patches), so Σy = w·S and Σy² = wᵀ·G·w from the input's patch moments
///   G = XᵀX and S = Σ X (<see cref="PooledConvolution.PatchMoments"/>), not from a pass over y;</item>
/// <item>forward: the normalisation with those statistics folded into the pooled convolution as a per-channel scale γ·inv and shift
///   β − γ·inv·μ (<see cref="Conv2D.ForwardPooled(Tensor, Activation, float[], float[])"/>);</item>
/// <item>backward: the pooled pass's sums D = Σ δz·X and Σδz (δz: δ of the normalised output, nonzero only at the pooling winners the ReLU
///   passes) give everything: δβ = Σδz, δγ = Σ δz·x̂ = inv·(w·D − μ·Σδz), and with a = γ·inv, N values per channel,
///   δW = a·(D − (Σδz/N)·S − (δγ/N)·inv·(G·w − μ·S)), the batch norm's backward pass summed over the patches.</item>
/// </list>
/// The layers' results up to rounding. A full backward pass (δx asked for) rebuilds δ of the convolution's output for its im2col pass.
/// </summary>
public sealed class ConvolutionBatchNormStep : PlanStep
{
    internal ConvolutionBatchNormStep(int index, Conv2D conv, BatchNorm2D batchNorm, Activation activation, MaxPool2D maxPool)
        : base(index, activation == Activation.None ? 3 : 4) => (Conv, BatchNorm, Activation, MaxPool) = (conv, batchNorm, activation, maxPool);

    public Conv2D Conv { get; }
    public BatchNorm2D BatchNorm { get; }
    public Activation Activation { get; }
    public MaxPool2D MaxPool { get; }
    public override bool HasParameters => true;

    double[] gram = [], patchSums = [], sums = [], sumSquares = [], δweightSums = [], δzSums = [];
    double[][] gramPartials = [], patchSumPartials = [];
    float[][] paddedWork = [], momentWork = [];
    float[] mean = [], inverseStd = [], scale = [], shift = [];
    Tensor? input;
    int perChannel;
    GemmKernel kernel;
    Action<int, int, int>? momentImages;

    public override Tensor Forward(Tensor input, bool training)
    {
        if (!training) return MaxPool.Forward(BatchNorm.Forward(Conv.Forward(input, training: false), training: false, Activation), training: false);
        var g = Conv.Geometry;
        int taps = g.PatchSize, outChannels = Conv.OutChannels, batch = input[0], workers = Threads.WorkerCount(batch);
        if (input.Rank != 4 || input[1] != g.Channels || input[2] != g.Height || input[3] != g.Width)
            throw new ShapeException($"{this}: input: expected [N, {g.Channels}, {g.Height}, {g.Width}], got {Tensor.ShapeString(input.Shape)}");
        if (gram.Length == 0)
        {
            (gram, patchSums, sums, sumSquares) = (new double[taps * taps], new double[taps], new double[outChannels], new double[outChannels]);
            (δweightSums, δzSums) = (new double[outChannels * taps], new double[outChannels]);
            (mean, inverseStd, scale, shift) = (new float[outChannels], new float[outChannels], new float[outChannels], new float[outChannels]);
        }
        if (gramPartials.Length < workers)
        {
            gramPartials = Threads.PerWorker<double>(workers, taps * taps);
            patchSumPartials = Threads.PerWorker<double>(workers, taps);
            paddedWork = Threads.PerWorker<float>(workers, PooledConvolution.PaddedImageSize(g));
            momentWork = Threads.PerWorker<float>(workers, PooledConvolution.MomentWorkSize(g));
        }
        (this.input, kernel) = (input, GemmTuning.Current.Kernel);
        Threads.ForRanges(batch, momentImages ??= MomentImages);
        // The workers' moments added in a fixed order (the same result on every run).
        Array.Clear(gram);
        Array.Clear(patchSums);
        for (int worker = 0; worker < workers; worker++)
        {
            for (int i = 0; i < gram.Length; i++) gram[i] += gramPartials[worker][i];
            for (int t = 0; t < taps; t++) patchSums[t] += patchSumPartials[worker][t];
        }
        var w = Conv.Weight.Value.Span;
        for (int oc = 0; oc < outChannels; oc++)
        {
            var filter = w.Slice(oc * taps, taps);
            double sum = 0, squares = 0;
            for (int a = 0; a < taps; a++)
            {
                sum += filter[a] * patchSums[a];
                double row = 0;
                for (int b = 0; b < taps; b++) row += gram[a * taps + b] * filter[b];
                squares += filter[a] * row;
            }
            (sums[oc], sumSquares[oc]) = (sum, squares);
        }
        perChannel = batch * g.OutputPixels;
        BatchNorm.SetBatchStatistics(sums, sumSquares, perChannel, mean, inverseStd);
        var γ = BatchNorm.Weight.Value.Span;
        var β = BatchNorm.Bias.Value.Span;
        for (int oc = 0; oc < outChannels; oc++) (scale[oc], shift[oc]) = (γ[oc] * inverseStd[oc], β[oc] - γ[oc] * inverseStd[oc] * mean[oc]);
        return Conv.ForwardPooled(input, Activation, scale, shift);
    }

    void MomentImages(int worker, int start, int end)
    {
        var g = Conv.Geometry;
        int imageSize = g.Channels * g.InputPixels;
        Array.Clear(gramPartials[worker]);
        Array.Clear(patchSumPartials[worker]);
        PooledConvolution.PatchMoments(kernel, input!.Data.AsSpan(start * imageSize, (end - start) * imageSize), end - start, g,
                                       paddedWork[worker], momentWork[worker], gramPartials[worker], patchSumPartials[worker]);
    }

    public override Tensor? Backward(Tensor δoutput, bool inputGradient)
    {
        if (perChannel == 0) throw new InvalidOperationException($"{this}: Backward before a training Forward");
        Conv.BackwardPooledSums(δoutput, δweightSums, δzSums);
        var g = Conv.Geometry;
        int taps = g.PatchSize, outChannels = Conv.OutChannels;
        var w = Conv.Weight.Value.Span;
        var γ = BatchNorm.Weight.Value.Span;
        Span<float> δw = Conv.Weight.Gradient.Span, δγ = BatchNorm.Weight.Gradient.Span, δβ = BatchNorm.Bias.Gradient.Span;
        for (int oc = 0; oc < outChannels; oc++)
        {
            var filter = w.Slice(oc * taps, taps);
            var d = δweightSums.AsSpan(oc * taps, taps);
            double μ = mean[oc], inv = inverseStd[oc], δz = δzSums[oc], wd = 0;
            for (int t = 0; t < taps; t++) wd += filter[t] * d[t];
            double δgamma = inv * (wd - μ * δz);
            (δβ[oc], δγ[oc]) = ((float)δz, (float)δgamma);
            double a = γ[oc] * inv, meanδz = δz / perChannel, meanδzxHat = δgamma / perChannel;
            for (int t = 0; t < taps; t++)
            {
                double gw = 0;
                for (int b = 0; b < taps; b++) gw += gram[t * taps + b] * filter[b];
                δw[oc * taps + t] = (float)(a * (d[t] - meanδz * patchSums[t] - meanδzxHat * inv * (gw - μ * patchSums[t])));
            }
        }
        return inputGradient ? InputGradient(δoutput) : null;
    }

    /// <summary>
    /// δx (a full backward pass): δy = a·(δz − mean(δz) − x̂·mean(δz·x̂)) over the whole conv output (y computed again, δz from the pooled δ at the
    /// winners), then the convolution's im2col pass; the parameter gradients stay those computed above.
    /// </summary>
    Tensor InputGradient(Tensor δpooled)
    {
        var g = Conv.Geometry;
        int outChannels = Conv.OutChannels, batch = input![0];
        var δy = Conv.UnpooledGradient(δpooled);                      // δz: the pooled δ at the winners
        var y = Conv.Forward(input, training: false).Span.ToArray();   // the convolution's output again (a full pass only)
        var δ = δy.Span;
        var γ = BatchNorm.Weight.Value.Span;
        for (int plane = 0; plane < batch * outChannels; plane++)
        {
            int oc = plane % outChannels;
            double inv = inverseStd[oc], a = γ[oc] * inv, meanδz = δzSums[oc] / perChannel;
            double meanδzxHat = BatchNorm.Weight.Gradient.Span[oc] / (double)perChannel;
            for (int p = plane * g.OutputPixels; p < (plane + 1) * g.OutputPixels; p++)
                δ[p] = (float)(a * (δ[p] - meanδz - (y[p] - mean[oc]) * inv * meanδzxHat));
        }
        return Conv.PooledInputGradient(δy);
    }

    public override string ToString() => $"{Conv} + {BatchNorm}" + (Activation == Activation.None ? "" : $" + {Activation}") + $" + {MaxPool} [folded, pooled pass]";
}
