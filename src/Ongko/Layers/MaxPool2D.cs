using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Max pooling without padding; windows may overlap (k3 s2, k2 s1). Forward remembers where each
/// maximum came from; on ties the first in row-major order wins, as in PyTorch, and alone gets the gradient.
/// The algorithm is <see cref="MaxPool"/>; this layer splits the planes over the workers.
/// </summary>
public sealed class MaxPool2D : Layer
{
    readonly int kernelSize, stride;
    ConvGeometry geometry;
    Tensor? output, δinput;
    int[] argmax = [];   // per output value: index of the winning input within its plane
    int batch;

    public MaxPool2D(int kernelSize, int stride)
    {
        if (kernelSize < 1 || stride < 1) throw new ArgumentException($"MaxPool2D({kernelSize}, {stride}): kernel and stride must be >= 1");
        (this.kernelSize, this.stride) = (kernelSize, stride);
    }

    public override string Kind => "MaxPool2D";
    public override string Arguments => $"{kernelSize}, {stride}";
    public int KernelSize => kernelSize;
    public int Stride => stride;

    public override int[] Build(int[] sampleShape, Rng rng)
    {
        if (sampleShape.Length != 3) throw ShapeError("input sample shape", [-1, -1, -1], sampleShape);
        if (sampleShape[1] < kernelSize || sampleShape[2] < kernelSize)
            throw new ShapeException($"{this}: window {kernelSize} is larger than the input {sampleShape[1]}x{sampleShape[2]}");
        geometry = new ConvGeometry(sampleShape[0], sampleShape[1], sampleShape[2], kernelSize, stride, 0);
        return [sampleShape[0], geometry.OutputHeight, geometry.OutputWidth];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        var g = geometry;
        if (input.Rank != 4 || input[1] != g.Channels || input[2] != g.Height || input[3] != g.Width)
            throw ShapeError("input", [-1, g.Channels, g.Height, g.Width], input.Shape);
        batch = input[0];
        var output = Tensor.Reuse(ref this.output, [batch, g.Channels, g.OutputHeight, g.OutputWidth]);
        int planes = batch * g.Channels, outputPixels = g.OutputPixels;
        if (argmax.Length < planes * outputPixels) argmax = new int[planes * outputPixels];
        (this.input, kernel) = (input, GemmTuning.Current.Kernel);
        Threads.ForRanges(planes, forwardPlanes ??= ForwardPlanes);
        this.input = null;
        return output;
    }

    Tensor? input;
    Tensor? δoutputSeen;
    GemmKernel kernel;   // the calling thread's choice, for the workers
    Action<int, int, int>? forwardPlanes, backwardPlanes;   // cached: a dispatch allocates nothing

    void ForwardPlanes(int worker, int start, int end)
    {
        var g = geometry;
        MaxPool.Forward(kernel, input!.Data.AsSpan(start * g.InputPixels, (end - start) * g.InputPixels), end - start, g,
                        output!.Data.AsSpan(start * g.OutputPixels, (end - start) * g.OutputPixels),
                        argmax.AsSpan(start * g.OutputPixels, (end - start) * g.OutputPixels));
    }

    public override Tensor Backward(Tensor δoutput)
    {
        var g = geometry;
        if (output is null) throw new InvalidOperationException($"{this}: Backward before Forward");
        if (!δoutput.SameShape(output)) throw ShapeError("δoutput", output.Shape, δoutput.Shape);
        var δinput = InputGradient(ref this.δinput, δoutput, [batch, g.Channels, g.Height, g.Width]);
        δoutputSeen = δoutput;
        Threads.ForRanges(batch * g.Channels, backwardPlanes ??= BackwardPlanes);
        δoutputSeen = null;
        return δinput;
    }

    void BackwardPlanes(int worker, int start, int end)
    {
        var g = geometry;
        MaxPool.Backward(δoutputSeen!.Data.AsSpan(start * g.OutputPixels, (end - start) * g.OutputPixels),
                         argmax.AsSpan(start * g.OutputPixels, (end - start) * g.OutputPixels), end - start, g,
                         δinput!.Data.AsSpan(start * g.InputPixels, (end - start) * g.InputPixels));
    }
}
