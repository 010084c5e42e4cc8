using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Layers;

/// <summary>
/// Max pooling without padding; windows may overlap (k3 s2, k2 s1). Forward remembers where each
/// maximum came from; on ties the first in row-major order wins, as in PyTorch, and alone gets the gradient.
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
        float[] x = input.Data, y = output.Data;
        int[] winners = argmax;
        Threads.ForRanges(planes, (_, start, end) =>
        {
            for (int plane = start; plane < end; plane++)
                PoolPlane(x.AsSpan(plane * g.InputPixels, g.InputPixels), y.AsSpan(plane * outputPixels, outputPixels),
                          winners.AsSpan(plane * outputPixels, outputPixels), g);
        });
        return output;
    }

    static void PoolPlane(ReadOnlySpan<float> x, Span<float> y, Span<int> winners, in ConvGeometry g)
    {
        int k = g.Kernel, outputWidth = g.OutputWidth;
        for (int oy = 0; oy < g.OutputHeight; oy++)
            for (int ox = 0; ox < outputWidth; ox++)
            {
                int top = oy * g.Stride, left = ox * g.Stride;
                int best = top * g.Width + left;
                float max = x[best];
                for (int ky = 0; ky < k; ky++)
                {
                    var row = x.Slice((top + ky) * g.Width + left, k);
                    for (int kx = 0; kx < k; kx++)
                        if (row[kx] > max || float.IsNaN(row[kx])) { max = row[kx]; best = (top + ky) * g.Width + left + kx; }
                }
                y[oy * outputWidth + ox] = max;
                winners[oy * outputWidth + ox] = best;
            }
    }

    public override Tensor Backward(Tensor δoutput)
    {
        var g = geometry;
        if (output is null) throw new InvalidOperationException($"{this}: Backward before Forward");
        if (!δoutput.SameShape(output)) throw ShapeError("δoutput", output.Shape, δoutput.Shape);
        var δinput = Tensor.Reuse(ref this.δinput, [batch, g.Channels, g.Height, g.Width]);
        int outputPixels = g.OutputPixels;
        float[] δy = δoutput.Data, δx = δinput.Data;
        int[] winners = argmax;
        Threads.ForRanges(batch * g.Channels, (_, start, end) =>
        {
            for (int plane = start; plane < end; plane++)
            {
                var δxPlane = δx.AsSpan(plane * g.InputPixels, g.InputPixels);
                δxPlane.Clear();
                for (int i = 0; i < outputPixels; i++)
                    δxPlane[winners[plane * outputPixels + i]] += δy[plane * outputPixels + i];  // += : overlapping windows can share a winner
            }
        });
        return δinput;
    }
}
