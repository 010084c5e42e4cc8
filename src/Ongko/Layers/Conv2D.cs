using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// 2-D convolution as im2col + GEMM, one image per worker: out[n] = W[OC, C·k·k] · col(x[n]) + b.
/// With fewer images than cores (batch-1 latency) each image's GEMMs are split over the cores instead.
/// Backward recomputes col(x[n]) instead of keeping it (it would be tens of MB at batch 128).
/// </summary>
public sealed class Conv2D : Layer
{
    readonly int inChannels, outChannels, kernelSize, stride, padding;
    readonly bool hasBias;
    ConvGeometry geometry;
    Parameter? weight, bias;
    Tensor? input, output, δinput;
    float[][] columns = [], δcolumns = [], δweightPartials = [];   // one work buffer per worker
    double[][] δbiasPartials = [];

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
        return [outChannels, geometry.OutputHeight, geometry.OutputWidth];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        var g = geometry;
        if (input.Rank != 4 || input[1] != g.Channels || input[2] != g.Height || input[3] != g.Width)
            throw ShapeError("input", [-1, g.Channels, g.Height, g.Width], input.Shape);
        this.input = input;
        int batch = input[0];
        var output = Tensor.Reuse(ref this.output, [batch, outChannels, g.OutputHeight, g.OutputWidth]);
        EnsureWorkBuffers(batch);
        if (batch >= Threads.Count) Threads.ForRanges(batch, forwardImages ??= ForwardImages);
        else
            // Fewer images than cores (batch-1 latency): each image's GEMM is split over the cores instead.
            for (int n = 0; n < batch; n++) ForwardImage(n, columns[0], parallel: true);
        return output;
    }

    Action<int, int, int>? forwardImages, backwardImages;   // cached: a dispatch allocates nothing
    bool computeInputGradient = true;

    void ForwardImages(int worker, int start, int end)
    {
        for (int n = start; n < end; n++) ForwardImage(n, columns[worker], parallel: false);
    }

    void ForwardImage(int n, float[] col, bool parallel)
    {
        var g = geometry;
        int outputPixels = g.OutputPixels;
        Im2Col.Forward(input!.Data.AsSpan(n * g.Channels * g.InputPixels, g.Channels * g.InputPixels), col, g);
        var yImage = output!.Data.AsSpan(n * outChannels * outputPixels, outChannels * outputPixels);
        // y[n][OC, OHW] = W[OC, CKK] · col[CKK, OHW]
        Gemm.Multiply(false, false, outChannels, outputPixels, g.PatchSize, weight!.Value.Data, g.PatchSize, col, outputPixels,
                      yImage, outputPixels, accumulate: false, parallel);
        if (bias is not null)
        {
            var b = bias.Value.Data;
            for (int oc = 0; oc < outChannels; oc++)
                TensorPrimitives.Add(yImage.Slice(oc * outputPixels, outputPixels), b[oc], yImage.Slice(oc * outputPixels, outputPixels));
        }
    }

    public override Tensor Backward(Tensor δoutput)
    {
        computeInputGradient = true;
        BackwardCore(δoutput);
        return δinput!;
    }

    /// <summary>Weight and bias gradients only: the first layer of a model needs no input gradient (saves a GEMM and col2im per image).</summary>
    public override void BackwardParametersOnly(Tensor δoutput)
    {
        computeInputGradient = false;
        try { BackwardCore(δoutput); }
        finally { computeInputGradient = true; }
    }

    Tensor? δoutputSeen;

    void BackwardCore(Tensor δoutput)
    {
        var g = geometry;
        var x = input ?? throw new InvalidOperationException($"{this}: Backward before Forward");
        int batch = x[0], outputPixels = g.OutputPixels;
        if (δoutput.Rank != 4 || δoutput[0] != batch || δoutput[1] != outChannels || δoutput[2] != g.OutputHeight || δoutput[3] != g.OutputWidth)
            throw ShapeError("δoutput", [batch, outChannels, g.OutputHeight, g.OutputWidth], δoutput.Shape);
        if (computeInputGradient) Tensor.Reuse(ref δinput, x.Shape);
        δoutputSeen = δoutput;
        int workers = Threads.WorkerCount(batch);
        if (batch >= Threads.Count) Threads.ForRanges(batch, backwardImages ??= BackwardImages);
        else
        {
            workers = 1;
            for (int n = 0; n < batch; n++) BackwardImage(n, 0, accumulate: n > 0, parallel: true);
        }
        δoutputSeen = null;
        // Sum the workers' partial gradients in a fixed order: same result on every run.
        var δweight = Weight.Gradient.Span;
        δweightPartials[0].AsSpan(0, δweight.Length).CopyTo(δweight);
        for (int worker = 1; worker < workers; worker++)
            TensorPrimitives.Add(δweight, δweightPartials[worker].AsSpan(0, δweight.Length), δweight);
        if (bias is not null)
        {
            var δbias = bias.Gradient.Span;
            for (int oc = 0; oc < outChannels; oc++)
            {
                double sum = 0;
                for (int worker = 0; worker < workers; worker++) sum += δbiasPartials[worker][oc];
                δbias[oc] = (float)sum;
            }
        }
    }

    void BackwardImages(int worker, int start, int end)
    {
        for (int n = start; n < end; n++) BackwardImage(n, worker, accumulate: n > start, parallel: false);
    }

    void BackwardImage(int n, int worker, bool accumulate, bool parallel)
    {
        var g = geometry;
        int outputPixels = g.OutputPixels, patch = g.PatchSize, imageSize = g.Channels * g.InputPixels;
        float[] col = columns[worker], δcol = δcolumns[worker], δwPartial = δweightPartials[worker];
        var δyImage = δoutputSeen!.Data.AsSpan(n * outChannels * outputPixels, outChannels * outputPixels);
        Im2Col.Forward(input!.Data.AsSpan(n * imageSize, imageSize), col, g);
        // δW[OC, CKK] += δy[n][OC, OHW] · col[CKK, OHW]ᵀ
        Gemm.Multiply(false, true, outChannels, patch, outputPixels, δyImage, outputPixels, col, outputPixels, δwPartial, patch, accumulate, parallel);
        if (bias is not null)
        {
            var δbPartial = δbiasPartials[worker];
            if (!accumulate) Array.Clear(δbPartial);
            for (int oc = 0; oc < outChannels; oc++)
                δbPartial[oc] += TensorPrimitives.Sum(δyImage.Slice(oc * outputPixels, outputPixels));
        }
        if (!computeInputGradient) return;
        // δcol[CKK, OHW] = Wᵀ[CKK, OC] · δy[n][OC, OHW]
        Gemm.Multiply(true, false, patch, outputPixels, outChannels, weight!.Value.Data, patch, δyImage, outputPixels, δcol, outputPixels, accumulate: false, parallel);
        var δxImage = δinput!.Data.AsSpan(n * imageSize, imageSize);
        δxImage.Clear();
        Im2Col.BackwardAccumulate(δcol, δxImage, g);
    }

    void EnsureWorkBuffers(int batch)
    {
        int workers = Threads.WorkerCount(batch);
        if (columns.Length >= workers) return;
        int columnSize = geometry.PatchSize * geometry.OutputPixels;
        columns = new float[workers][];
        δcolumns = new float[workers][];
        δweightPartials = new float[workers][];
        δbiasPartials = new double[workers][];
        for (int i = 0; i < workers; i++)
        {
            columns[i] = new float[columnSize];
            δcolumns[i] = new float[columnSize];
            δweightPartials[i] = new float[outChannels * geometry.PatchSize];
            δbiasPartials[i] = new double[outChannels];
        }
    }
}
