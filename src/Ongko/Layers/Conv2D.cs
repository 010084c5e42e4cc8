using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// 2-D convolution (<see cref="Convolution"/>'s im2col + GEMM kernels), images split over the workers:
/// out[n] = W[OC, C·k·k] · col(x[n]) + b. Small outputs (14x14, 7x7) are unrolled several images side by side
/// per GEMM (groups of G, from <see cref="GroupColumns"/>). With fewer images than cores (batch-1 latency) each
/// image's GEMMs are split over the cores instead. Per worker it keeps the work buffers and partial gradients.
/// </summary>
public sealed partial class Conv2D : Layer, IActivationProducer, IFoldsBatchNorm
{
    readonly int inChannels, outChannels, kernelSize, stride, padding;
    readonly bool hasBias;
    ConvGeometry geometry;
    Parameter? weight, bias;
    Tensor? input, output, δinput;
    float[][] columns = [], δcolumns = [], groupOutputs = [], δweightPartials = [];   // one work buffer per worker
    double[][] δbiasPartials = [];
    int groupSize = 1, backwardGroupSize = 1;   // images unrolled side by side per GEMM
    Activation activation;   // of the current call: applied in the bias pass, its derivative masks δy while gathering
    float[]? foldedScale, foldedShift;   // a folded batch normalisation's per-channel scale and shift (evaluation plan only)
    ConvolutionAlgorithm algorithm;      // of the current forward call, chosen by the execution plan
    float[] winogradWeights = [], winogradU = [];   // the weights U was transformed from, and U[16, OC, C]
    float[][] winogradV = [], winogradM = [], winogradPadded = [];   // Winograd work buffers, one per worker
    int winogradGroupSize = 1, winogradBackwardGroupSize = 1;
    Tensor? pooledOutput;   // ForwardMaxPooled's output [N, OC, OH/2, OW/2]
    bool maxPooled;         // the current call pools 2x2/2 in its output pass (evaluation plan only)

    /// <summary>
    /// Columns one GEMM should see at least: images are grouped until G·OH·OW reaches this (G ≤ 16); read by Build.
    /// Tests set it for their own thread (1: one image per GEMM, as before grouping).
    /// </summary>
    internal static int GroupColumns { get => groupColumnsOverride ?? 768; set => groupColumnsOverride = value; }
    [ThreadStatic] static int? groupColumnsOverride;

    /// <summary>The same for the backward pass, smaller: it keeps col and δcol of a group in cache at once.</summary>
    internal static int BackwardGroupColumns { get => backwardGroupColumnsOverride ?? 384; set => backwardGroupColumnsOverride = value; }
    [ThreadStatic] static int? backwardGroupColumnsOverride;

    public Conv2D(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize < 1 || stride < 1 || padding < 0)
            throw new ArgumentException($"Conv2D({inChannels}, {outChannels}, {kernelSize}, {stride}, {padding}): channels, kernel and stride must be >= 1 and padding >= 0");
        (this.inChannels, this.outChannels, this.kernelSize, this.stride, this.padding, hasBias) =
            (inChannels, outChannels, kernelSize, stride, padding, bias);
    }

    public override string Kind => "Conv2D";
    public override string Arguments => $"{inChannels}, {outChannels}, {kernelSize}, {stride}, {padding}" + (hasBias ? "" : ", false");
    public Parameter Weight => weight ?? throw new InvalidOperationException($"{this} is not built yet");
    public Parameter? Bias => bias;

    /// <summary>The sizes of the convolution over one image (set by Build).</summary>
    public ConvGeometry Geometry => geometry;
    public int OutChannels => outChannels;

    /// <summary>Columns (tiles) one Winograd GEMM should see at least: images are grouped until G·tiles reaches this (G ≤ 16).</summary>
    internal static int WinogradColumns { get => winogradColumnsOverride ?? 256; set => winogradColumnsOverride = value; }

    /// <summary>
    /// The same for the Winograd backward pass (training only), smaller: with <see cref="WinogradProducts"/>' register blocks the
    /// weight gradient needs no long sums, and V and δM of ~100 tiles (2 images at 14x14, 64→64: 0.9 MB) stay in L2 between the
    /// transforms and the products (measured, thread CPU per batch of 128 against 1,024 tiles: numta28-best 64→64 backward 13.2–13.5 →
    /// 11.7–12.0 ms, 32→64 7.5–7.8 → 6.7–6.9; model3 16→32 7.7–7.8 → 7.1–7.2, 32→32 3.3–3.4 → 3.0–3.2).
    /// </summary>
    internal static int WinogradBackwardColumns { get => winogradBackwardColumnsOverride ?? 98; set => winogradBackwardColumnsOverride = value; }
    [ThreadStatic] static int? winogradBackwardColumnsOverride;
    [ThreadStatic] static int? winogradColumnsOverride;
    public override IReadOnlyList<Parameter> Parameters => weight is null ? [] : bias is null ? [weight] : [weight, bias];

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        if (sampleShape.Length != 3 || sampleShape[0] != inChannels)
            throw ShapeError("input sample shape", [inChannels, -1, -1], sampleShape);
        geometry = new ConvGeometry(inChannels, sampleShape[1], sampleShape[2], kernelSize, stride, padding);
        if (sampleShape[1] + 2 * padding < kernelSize || sampleShape[2] + 2 * padding < kernelSize)
            throw new ShapeException($"{this}: kernel {kernelSize} is larger than the padded input {sampleShape[1]}x{sampleShape[2]}");
        weight = new Parameter("weight", new Tensor(outChannels, inChannels, kernelSize, kernelSize));
        Initialization.HeNormal(weight.Value.Span, geometry.PatchSize, rng);
        bias = hasBias ? new Parameter("bias", new Tensor(outChannels)) : null;
        groupSize = Math.Clamp((GroupColumns + geometry.OutputPixels - 1) / geometry.OutputPixels, 1, 16);
        backwardGroupSize = Math.Clamp((BackwardGroupColumns + geometry.OutputPixels - 1) / geometry.OutputPixels, 1, groupSize);
        int tiles = Winograd.TilesPerImage(geometry);
        winogradGroupSize = Math.Clamp((WinogradColumns + tiles - 1) / tiles, 1, 16);
        winogradBackwardGroupSize = Math.Clamp((WinogradBackwardColumns + tiles - 1) / tiles, 1, 16);
        winogradV = [];
        δwinogradUPartials = [];
        columns = [];   // re-sized for the new geometry on the next step
        return [outChannels, geometry.OutputHeight, geometry.OutputWidth];
    }

    public override Tensor Forward(Tensor input, bool training) => Forward(input, training, Activation.None);

    /// <summary>activation(conv(input)): the activation is applied in the pass that adds the bias.</summary>
    public Tensor Forward(Tensor input, bool training, Activation activation) => Forward(input, training, activation, ConvolutionAlgorithm.Im2ColGemm);

    /// <summary>
    /// activation(conv(input)) by the given algorithm (the execution plan's choice for this layer); the output and
    /// the cached input are the same whichever computes them, so a Backward may follow.
    /// </summary>
    public Tensor Forward(Tensor input, bool training, Activation activation, ConvolutionAlgorithm algorithm)
    {
        if (algorithm == ConvolutionAlgorithm.Winograd && !Winograd.Supports(geometry))
            throw new ArgumentException($"{this}: Winograd F(2x2, 3x3) needs a 3x3 stride-1 convolution on a CPU with AVX2");
        if (algorithm == ConvolutionAlgorithm.Direct && !DirectConvolution.Supports(geometry))
            throw new ArgumentException($"{this}: the direct convolution needs stride 1, at most {DirectConvolution.MaxChannels} input channels and AVX2");
        this.algorithm = algorithm;
        try { return ForwardBy(input, activation); }
        finally { this.algorithm = ConvolutionAlgorithm.Im2ColGemm; }
    }

    /// <summary>
    /// Evaluation: activation(scale ⊙ conv(input) + shift) per output channel (scale and shift null: + bias) by Winograd or
    /// the direct loops, with the 2x2 stride-2 max pooling that follows computed in the same pass; [N, OC, OH/2, OW/2].
    /// No Backward follows it.
    /// </summary>
    public Tensor ForwardMaxPooled(Tensor input, float[]? scale, float[]? shift, Activation activation, ConvolutionAlgorithm algorithm)
    {
        if (algorithm == ConvolutionAlgorithm.Im2ColGemm) throw new ArgumentException($"{this}: im2col + GEMM does not pool in its output pass");
        (foldedScale, foldedShift, maxPooled) = (scale, shift, true);
        try { return Forward(input, training: false, activation, algorithm); }
        finally { (foldedScale, foldedShift, maxPooled) = (null, null, false); }
    }

    Tensor ForwardBy(Tensor input, Activation activation)
    {
        var g = geometry;
        if (input.Rank != 4 || input[1] != g.Channels || input[2] != g.Height || input[3] != g.Width)
            throw ShapeError("input", [-1, g.Channels, g.Height, g.Width], input.Shape);
        this.input = input;
        this.activation = activation;
        pooledTraining = false;
        int batch = input[0];
        if (algorithm != ConvolutionAlgorithm.Im2ColGemm)
        {
            if (algorithm == ConvolutionAlgorithm.Winograd) PrepareWinograd(batch);
            else PrepareDirect(batch);
            if (maxPooled) Tensor.Reuse(ref pooledOutput, [batch, outChannels, g.OutputHeight / 2, g.OutputWidth / 2]);
            else Tensor.Reuse(ref this.output, [batch, outChannels, g.OutputHeight, g.OutputWidth]);
            Threads.ForRanges(batch, forwardImages ??= ForwardImages);
            return maxPooled ? pooledOutput! : this.output!;
        }
        var output = Tensor.Reuse(ref this.output, [batch, outChannels, g.OutputHeight, g.OutputWidth]);
        EnsureWorkBuffers(batch, activation);
        if (batch >= Threads.Count) Threads.ForRanges(batch, forwardImages ??= ForwardImages);
        else
            // Fewer images than cores (batch-1 latency): each image's GEMM is split over the cores instead.
            for (int n = 0; n < batch; n++) ForwardGroup(n, 1, 0, parallel: true);
        return output;
    }

    Action<int, int, int>? forwardImages, backwardImages;   // cached: a dispatch allocates nothing
    bool computeInputGradient = true;

    void ForwardImages(int worker, int start, int end)
    {
        if (algorithm == ConvolutionAlgorithm.Winograd)
            for (int n = start; n < end; n += winogradGroupSize) ForwardWinograd(n, Math.Min(winogradGroupSize, end - n), worker);
        else if (algorithm == ConvolutionAlgorithm.Direct) ForwardDirect(start, end - start, worker);
        else
            for (int n = start; n < end; n += groupSize) ForwardGroup(n, Math.Min(groupSize, end - n), worker, parallel: false);
    }

    /// <summary>U from the current weights (again only when they changed since), and the workers' Winograd buffers.</summary>
    void PrepareWinograd(int batch)
    {
        var w = weight!.Value.Span;
        if (!w.SequenceEqual(winogradWeights))
        {
            if (winogradU.Length == 0) (winogradWeights, winogradU) = (new float[w.Length], new float[16 * outChannels * inChannels]);
            w.CopyTo(winogradWeights);
            TransformWinogradWeights(flipped: false);
        }
        EnsureWinogradBuffers(batch, winogradGroupSize);
    }

    Action<int, int, int>? transformWinogradRange;   // cached: a dispatch allocates nothing
    bool transformFlipped;

    /// <summary>U of the current weights (or, <paramref name="flipped"/>, Ũ of the flipped, transposed ones) split over the workers by channels.</summary>
    void TransformWinogradWeights(bool flipped)
    {
        transformFlipped = flipped;
        Threads.ForRanges(flipped ? inChannels : outChannels, transformWinogradRange ??= TransformWinogradRange);
    }

    void TransformWinogradRange(int worker, int start, int end)
    {
        if (transformFlipped) WinogradBackward.TransformFlippedWeights(weight!.Value.Span, outChannels, inChannels, winogradUFlipped, start, end);
        else Winograd.TransformWeights(weight!.Value.Span, outChannels, inChannels, winogradU, start, end);
    }

    /// <summary>
    /// The workers' Winograd buffers for groups of <paramref name="groupSize"/> images (kept when they are big enough), for the forward
    /// pass or the backward pass, which uses them for the weight gradient (V of x, δM of δy) and then, swapped, for δx's
    /// convolution (V of δy in M's place, its M in V's place).
    /// </summary>
    void EnsureWinogradBuffers(int batch, int groupSize)
    {
        int workers = Threads.WorkerCount(batch);
        var flipped = WinogradBackward.InputGradientGeometry(geometry, outChannels);
        int rowLength = Math.Max(Winograd.RowLength(geometry, groupSize),
                                 WinogradBackward.Supports(geometry) ? Winograd.RowLength(flipped, groupSize) : 0);
        if (winogradV.Length >= workers && winogradV[0].Length >= 16 * inChannels * rowLength) return;
        int paddedSize = Math.Max(Winograd.PaddedPlaneSize(geometry), WinogradBackward.Supports(geometry) ? Winograd.PaddedPlaneSize(flipped) : 0);
        winogradV = new float[workers][];
        winogradM = new float[workers][];
        winogradPadded = new float[workers][];
        for (int i = 0; i < workers; i++)
        {
            winogradV[i] = new float[16 * inChannels * rowLength];
            winogradM[i] = new float[16 * outChannels * rowLength];
            winogradPadded[i] = new float[paddedSize];
        }
    }

    float[][] directPadded = [];   // the direct convolution's padded image, one per worker

    void PrepareDirect(int batch)
    {
        int workers = Threads.WorkerCount(batch);
        if (directPadded.Length >= workers) return;
        directPadded = new float[workers][];
        for (int i = 0; i < workers; i++) directPadded[i] = new float[DirectConvolution.PaddedImageSize(geometry)];
    }

    void ForwardDirect(int first, int count, int worker)
    {
        var g = geometry;
        int imageSize = g.Channels * g.InputPixels;
        int outputSize = outChannels * (maxPooled ? g.OutputHeight / 2 * (g.OutputWidth / 2) : g.OutputPixels);
        DirectConvolution.Forward(input!.Data.AsSpan(first * imageSize, count * imageSize), weight!.Value.Span,
                                  foldedShift ?? (bias is null ? default : bias.Value.Span), foldedScale, count, outChannels, g, activation,
                                  directPadded[worker], (maxPooled ? pooledOutput! : output!).Data.AsSpan(first * outputSize, count * outputSize), maxPooled);
    }

    void ForwardWinograd(int first, int count, int worker)
    {
        var g = geometry;
        int imageSize = g.Channels * g.InputPixels;
        int outputSize = outChannels * (maxPooled ? g.OutputHeight / 2 * (g.OutputWidth / 2) : g.OutputPixels);
        Winograd.Forward(input!.Data.AsSpan(first * imageSize, count * imageSize), winogradU,
                         foldedShift ?? (bias is null ? default : bias.Value.Span), foldedScale,
                         count, outChannels, g, activation, winogradV[worker], winogradM[worker], winogradPadded[worker],
                         (maxPooled ? pooledOutput! : output!).Data.AsSpan(first * outputSize, count * outputSize), maxPooled);
    }

    /// <summary>Images [first, first+count) as one group (count ≤ groupSize).</summary>
    void ForwardGroup(int first, int count, int worker, bool parallel)
    {
        var g = geometry;
        int imageSize = g.Channels * g.InputPixels, outputSize = outChannels * g.OutputPixels;
        Convolution.Forward(input!.Data.AsSpan(first * imageSize, count * imageSize), weight!.Value.Span,
                            foldedShift ?? (bias is null ? default : bias.Value.Span), foldedScale,
                            count, outChannels, g, activation, parallel, columns[worker], groupOutputs[worker],
                            output!.Data.AsSpan(first * outputSize, count * outputSize));
    }

    /// <summary>
    /// activation(scale ⊙ (W · col(input)) + shift) per output channel, in evaluation: a following batch
    /// normalisation folded into the output pass (the bias is part of shift). No Backward follows it.
    /// </summary>
    public Tensor ForwardScaled(Tensor input, float[] scale, float[] shift, Activation activation) =>
        ForwardScaled(input, scale, shift, activation, ConvolutionAlgorithm.Im2ColGemm);

    /// <summary><see cref="ForwardScaled(Tensor, float[], float[], Activation)"/> by the given algorithm.</summary>
    public Tensor ForwardScaled(Tensor input, float[] scale, float[] shift, Activation activation, ConvolutionAlgorithm algorithm)
    {
        (foldedScale, foldedShift) = (scale, shift);
        try { return Forward(input, training: false, activation, algorithm); }
        finally { (foldedScale, foldedShift) = (null, null); }
    }

    public override Tensor Backward(Tensor δoutput) => Backward(δoutput, Activation.None, inputGradient: true)!;

    /// <summary>Backward of activation(conv(x)) by im2col + GEMM.</summary>
    public Tensor? Backward(Tensor δoutput, Activation activation, bool inputGradient) =>
        Backward(δoutput, activation, inputGradient, ConvolutionAlgorithm.Im2ColGemm);

    /// <summary>Weight and bias gradients only (saves a GEMM and col2im per image).</summary>
    public override void BackwardParametersOnly(Tensor δoutput) => Backward(δoutput, Activation.None, inputGradient: false);

    Tensor? δoutputSeen;

    /// <summary>
    /// Backward of activation(conv(x)) by the given algorithm (the execution plan's choice, whichever computed the forward pass):
    /// im2col + GEMM, or Winograd (<see cref="WinogradBackward"/>: 3x3 stride-1, padding at most 2). δy is masked by the
    /// activation's derivative (from the cached output) as each group is gathered.
    /// </summary>
    public Tensor? Backward(Tensor δoutput, Activation activation, bool inputGradient, ConvolutionAlgorithm algorithm)
    {
        if (pooledTraining) throw new InvalidOperationException($"{this}: the last Forward pooled in the same pass; its backward pass is BackwardPooled");
        if (algorithm == ConvolutionAlgorithm.Winograd) return BackwardWinograd(δoutput, activation, inputGradient);
        if (algorithm != ConvolutionAlgorithm.Im2ColGemm) throw new ArgumentException($"{this}: no backward pass by {algorithm}");
        var g = geometry;
        var x = input ?? throw new InvalidOperationException($"{this}: Backward before Forward");
        int batch = x[0], outputPixels = g.OutputPixels;
        if (δoutput.Rank != 4 || δoutput[0] != batch || δoutput[1] != outChannels || δoutput[2] != g.OutputHeight || δoutput[3] != g.OutputWidth)
            throw ShapeError("δoutput", [batch, outChannels, g.OutputHeight, g.OutputWidth], δoutput.Shape);
        computeInputGradient = inputGradient;
        this.activation = activation;
        EnsureWorkBuffers(batch, activation);
        if (computeInputGradient) InputGradient(ref δinput, δoutput, x.Shape);
        δoutputSeen = δoutput;
        int workers = Threads.WorkerCount(batch);
        if (batch >= Threads.Count) Threads.ForRanges(batch, backwardImages ??= BackwardImages);
        else
        {
            workers = 1;
            for (int n = 0; n < batch; n++) BackwardGroup(n, 1, 0, accumulate: n > 0, parallel: true);
        }
        δoutputSeen = null;
        // Sum the workers' partial gradients in a fixed order: same result on every run.
        var δweight = Weight.Gradient.Span;
        δweightPartials[0].AsSpan(0, δweight.Length).CopyTo(δweight);
        for (int worker = 1; worker < workers; worker++)
            TensorPrimitives.Add(δweight, δweightPartials[worker].AsSpan(0, δweight.Length), δweight);
        SumBiasPartials(workers);
        return inputGradient ? δinput : null;
    }

    /// <summary>δbias = the workers' partial sums added in a fixed order (same result on every run).</summary>
    void SumBiasPartials(int workers)
    {
        if (bias is null) return;
        var δbias = bias.Gradient.Span;
        for (int oc = 0; oc < outChannels; oc++)
        {
            double sum = 0;
            for (int worker = 0; worker < workers; worker++) sum += δbiasPartials[worker][oc];
            δbias[oc] = (float)sum;
        }
    }

    void BackwardImages(int worker, int start, int end)
    {
        for (int n = start; n < end; n += backwardGroupSize)
            BackwardGroup(n, Math.Min(backwardGroupSize, end - n), worker, accumulate: n > start, parallel: false);
    }

    /// <summary>Images [first, first+count) as one group, the adjoint of <see cref="ForwardGroup"/>, into this worker's partial sums.</summary>
    void BackwardGroup(int first, int count, int worker, bool accumulate, bool parallel)
    {
        var g = geometry;
        int imageSize = g.Channels * g.InputPixels, outputSize = outChannels * g.OutputPixels;
        Convolution.Backward(δoutputSeen!.Data.AsSpan(first * outputSize, count * outputSize), input!.Data.AsSpan(first * imageSize, count * imageSize),
                             output!.Data.AsSpan(first * outputSize, count * outputSize), weight!.Value.Span,
                             count, outChannels, g, activation, accumulate, parallel,
                             columns[worker], groupOutputs[worker], δcolumns[worker], δweightPartials[worker],
                             bias is null ? default : δbiasPartials[worker],
                             computeInputGradient ? δinput!.Data.AsSpan(first * imageSize, count * imageSize) : default);
    }

    float[] winogradUFlipped = [], δwinogradU = [];   // Ũ of the flipped, transposed filters W̃ for δx; the summed δU
    float[][] δwinogradUPartials = [], winogradPaddedGradient = [], winogradMasked = [];   // one per worker
    Action<int, int, int>? backwardWinogradImages;
    bool winogradWeightGradient;   // the current Winograd backward pass computes the parameter gradients too (else im2col did)

    /// <summary>The Winograd backward pass: δU per worker, summed in a fixed order and mapped back to 3x3 filters; δx by Ũ.</summary>
    Tensor? BackwardWinograd(Tensor δoutput, Activation activation, bool inputGradient)
    {
        var g = geometry;
        var x = input ?? throw new InvalidOperationException($"{this}: Backward before Forward");
        if (!WinogradBackward.Supports(g))
            throw new ArgumentException($"{this}: the Winograd backward pass needs a 3x3 stride-1 convolution with padding at most 2 on a CPU with AVX2");
        int batch = x[0];
        if (δoutput.Rank != 4 || δoutput[0] != batch || δoutput[1] != outChannels || δoutput[2] != g.OutputHeight || δoutput[3] != g.OutputWidth)
            throw ShapeError("δoutput", [batch, outChannels, g.OutputHeight, g.OutputWidth], δoutput.Shape);
        (computeInputGradient, this.activation, δoutputSeen) = (inputGradient, activation, δoutput);
        int workers = Threads.WorkerCount(batch);
        EnsureWinogradBuffers(batch, winogradBackwardGroupSize);
        if (δwinogradUPartials.Length < workers || (activation != Activation.None && winogradMasked[0].Length == 0))
        {
            int planeSize = 16 * outChannels * inChannels;
            (δwinogradU, winogradUFlipped) = (new float[planeSize], new float[planeSize]);
            δwinogradUPartials = new float[workers][];
            winogradPaddedGradient = new float[workers][];
            winogradMasked = new float[workers][];
            δbiasPartials = new double[workers][];
            for (int i = 0; i < workers; i++)
            {
                δwinogradUPartials[i] = new float[planeSize];
                winogradPaddedGradient[i] = new float[WinogradBackward.PaddedGradientPlaneSize(g)];
                winogradMasked[i] = activation == Activation.None ? [] : new float[winogradBackwardGroupSize * outChannels * g.OutputPixels];
                δbiasPartials[i] = new double[outChannels];
            }
        }
        winogradWeightGradient = WinogradBackward.WeightGradientPays(g, outChannels);
        if (!winogradWeightGradient)
        {
            // Odd output sizes waste Winograd's tiles (7x7: 64 outputs computed for 49): the parameter gradients by im2col + GEMM.
            Backward(δoutput, activation, inputGradient: false, ConvolutionAlgorithm.Im2ColGemm);
            if (!inputGradient) return null;
            (computeInputGradient, this.activation, δoutputSeen) = (true, activation, δoutput);
        }
        if (inputGradient)
        {
            InputGradient(ref δinput, δoutput, x.Shape);
            TransformWinogradWeights(flipped: true);
        }
        Threads.ForRanges(batch, backwardWinogradImages ??= BackwardWinogradImages);
        δoutputSeen = null;
        if (!winogradWeightGradient) return δinput;
        // Sum the workers' δU in a fixed order (same result on every run), then back to 3x3 filters once.
        δwinogradU.AsSpan().Clear();
        for (int worker = 0; worker < workers; worker++) TensorPrimitives.Add(δwinogradU, δwinogradUPartials[worker], δwinogradU);
        WinogradBackward.FinishWeightGradient(δwinogradU, outChannels, inChannels, Weight.Gradient.Span);
        SumBiasPartials(workers);
        return inputGradient ? δinput : null;
    }

    void BackwardWinogradImages(int worker, int start, int end)
    {
        var g = geometry;
        var flipped = WinogradBackward.InputGradientGeometry(g, outChannels);
        int imageSize = g.Channels * g.InputPixels, outputSize = outChannels * g.OutputPixels;
        if (bias is not null && winogradWeightGradient) δbiasPartials[worker].AsSpan().Clear();
        for (int n = start; n < end; n += winogradBackwardGroupSize)
        {
            int count = Math.Min(winogradBackwardGroupSize, end - n);
            ReadOnlySpan<float> δy = δoutputSeen!.Data.AsSpan(n * outputSize, count * outputSize);
            if (activation == Activation.ReLU)
            {
                var masked = winogradMasked[worker].AsSpan(0, count * outputSize);
                Rectifier.Backward(output!.Data.AsSpan(n * outputSize, count * outputSize), δy, masked);
                δy = masked;
            }
            if (winogradWeightGradient)
            {
                if (bias is not null)
                    for (int plane = 0; plane < count * outChannels; plane++)
                        δbiasPartials[worker][plane % outChannels] += TensorPrimitives.Sum(δy.Slice(plane * g.OutputPixels, g.OutputPixels));
                WinogradBackward.WeightGradient(input!.Data.AsSpan(n * imageSize, count * imageSize), δy, count, outChannels, g,
                                                winogradV[worker], winogradM[worker], winogradPadded[worker].AsSpan(0, Winograd.PaddedPlaneSize(g)),
                                                winogradPaddedGradient[worker], δwinogradUPartials[worker], accumulate: n > start);
            }
            if (computeInputGradient)
                // δx = W̃ ∗ δy at padding 2 − p: V of δy goes in M's buffer, its M in V's
                Winograd.Forward(δy, winogradUFlipped, default, default, count, inChannels, flipped, Activation.None,
                                 winogradM[worker], winogradV[worker], winogradPadded[worker].AsSpan(0, Winograd.PaddedPlaneSize(flipped)),
                                 δinput!.Data.AsSpan(n * imageSize, count * imageSize));
        }
    }

    void EnsureWorkBuffers(int batch, Activation activation)
    {
        int workers = Threads.WorkerCount(batch);
        bool gather = groupSize > 1 || activation != Activation.None;   // a group's outputs, or δy masked, go through a buffer
        if (columns.Length >= workers && (!gather || groupOutputs[0].Length > 0)) return;
        int columnSize = geometry.PatchSize * geometry.OutputPixels * groupSize;
        columns = new float[workers][];
        δcolumns = new float[workers][];
        groupOutputs = new float[workers][];
        δweightPartials = new float[workers][];
        δbiasPartials = new double[workers][];
        for (int i = 0; i < workers; i++)
        {
            columns[i] = new float[columnSize];
            δcolumns[i] = new float[columnSize];
            groupOutputs[i] = gather ? new float[outChannels * geometry.OutputPixels * groupSize] : [];
            δweightPartials[i] = new float[outChannels * geometry.PatchSize];
            δbiasPartials[i] = new double[outChannels];
        }
    }
}
