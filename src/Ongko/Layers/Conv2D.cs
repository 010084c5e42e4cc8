using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// 2-D convolution as im2col + GEMM, one image per worker: out[n] = W[OC, C·k·k] · col(x[n]) + b.
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
        int batch = input[0], outputPixels = g.OutputPixels;
        var output = Tensor.Reuse(ref this.output, [batch, outChannels, g.OutputHeight, g.OutputWidth]);
        EnsureWorkBuffers(batch);
        float[] x = input.Data, y = output.Data, w = Weight.Value.Data;
        float[]? b = bias?.Value.Data;
        Threads.ForRanges(batch, (worker, start, end) =>
        {
            var col = columns[worker];
            for (int n = start; n < end; n++)
            {
                Im2Col.Forward(x.AsSpan(n * g.Channels * g.InputPixels, g.Channels * g.InputPixels), col, g);
                var yImage = y.AsSpan(n * outChannels * outputPixels, outChannels * outputPixels);
                // y[n][OC, OHW] = W[OC, CKK] · col[CKK, OHW]
                Gemm.Multiply(false, false, outChannels, outputPixels, g.PatchSize, w, g.PatchSize, col, outputPixels, yImage, outputPixels, accumulate: false);
                if (b is not null)
                    for (int oc = 0; oc < outChannels; oc++)
                        TensorPrimitives.Add(yImage.Slice(oc * outputPixels, outputPixels), b[oc], yImage.Slice(oc * outputPixels, outputPixels));
            }
        });
        return output;
    }

    public override Tensor Backward(Tensor δoutput)
    {
        var g = geometry;
        var x = input ?? throw new InvalidOperationException($"{this}: Backward before Forward");
        int batch = x[0], outputPixels = g.OutputPixels, patch = g.PatchSize;
        if (δoutput.Rank != 4 || δoutput[0] != batch || δoutput[1] != outChannels || δoutput[2] != g.OutputHeight || δoutput[3] != g.OutputWidth)
            throw ShapeError("δoutput", [batch, outChannels, g.OutputHeight, g.OutputWidth], δoutput.Shape);
        var δinput = Tensor.Reuse(ref this.δinput, x.Shape);
        float[] xs = x.Data, δy = δoutput.Data, δx = δinput.Data, w = Weight.Value.Data;
        int workers = Threads.WorkerCount(batch);
        Threads.ForRanges(batch, (worker, start, end) =>
        {
            float[] col = columns[worker], δcol = δcolumns[worker], δwPartial = δweightPartials[worker];
            for (int n = start; n < end; n++)
            {
                var δyImage = δy.AsSpan(n * outChannels * outputPixels, outChannels * outputPixels);
                Im2Col.Forward(xs.AsSpan(n * g.Channels * g.InputPixels, g.Channels * g.InputPixels), col, g);
                // δW[OC, CKK] += δy[n][OC, OHW] · col[CKK, OHW]ᵀ
                Gemm.Multiply(false, true, outChannels, patch, outputPixels, δyImage, outputPixels, col, outputPixels, δwPartial, patch, accumulate: n > start);
                // δcol[CKK, OHW] = Wᵀ[CKK, OC] · δy[n][OC, OHW]
                Gemm.Multiply(true, false, patch, outputPixels, outChannels, w, patch, δyImage, outputPixels, δcol, outputPixels, accumulate: false);
                var δxImage = δx.AsSpan(n * g.Channels * g.InputPixels, g.Channels * g.InputPixels);
                δxImage.Clear();
                Im2Col.BackwardAccumulate(δcol, δxImage, g);
            }
        });
        // Sum the workers' partial weight gradients in a fixed order: same result on every run.
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
                for (int n = 0; n < batch; n++)
                    sum += TensorPrimitives.Sum(δy.AsSpan((n * outChannels + oc) * outputPixels, outputPixels));
                δbias[oc] = (float)sum;
            }
        }
        return δinput;
    }

    void EnsureWorkBuffers(int batch)
    {
        int workers = Threads.WorkerCount(batch);
        if (columns.Length >= workers) return;
        int columnSize = geometry.PatchSize * geometry.OutputPixels;
        columns = new float[workers][];
        δcolumns = new float[workers][];
        δweightPartials = new float[workers][];
        for (int i = 0; i < workers; i++)
        {
            columns[i] = new float[columnSize];
            δcolumns[i] = new float[columnSize];
            δweightPartials[i] = new float[outChannels * geometry.PatchSize];
        }
    }
}
