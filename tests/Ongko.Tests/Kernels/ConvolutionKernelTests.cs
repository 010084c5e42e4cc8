using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>The im2col + GEMM Conv2D and the pooling layer against their direct-loop twins on random shapes.</summary>
[Collection(ThreadCountCollection.Name)]
public class ConvolutionKernelTests
{
    public static IEnumerable<object[]> RandomShapes()
    {
        var rng = new Rng(2024);
        for (int i = 0; i < 24; i++)
        {
            int kernel = 1 + rng.NextInt(5), stride = 1 + rng.NextInt(3), padding = rng.NextInt(3);
            int height = kernel + rng.NextInt(10), width = kernel + rng.NextInt(10);
            yield return [1 + rng.NextInt(5), 1 + rng.NextInt(4), 1 + rng.NextInt(7), height, width, kernel, stride, padding];
        }
    }

    [Theory]
    [MemberData(nameof(RandomShapes))]
    public void Conv2DMatchesDirectLoops(int batch, int channels, int outChannels, int height, int width, int kernel, int stride, int padding)
    {
        var rng = new Rng((ulong)(batch * 7 + channels * 131 + height * 17 + width * 3 + kernel * 1001 + stride * 37 + padding));
        var conv = new Conv2D(channels, outChannels, kernel, stride, padding);
        var outShape = conv.Build([channels, height, width], rng);
        TestData.Random(outChannels, rng).CopyTo(conv.Bias!.Value.Span);
        var y = AssertMatchesDirectLoops(conv, new ConvGeometry(channels, height, width, kernel, stride, padding), batch, outChannels, rng);
        Assert.Equal([batch, .. outShape], y);
    }

    /// <summary>
    /// Runs a built Conv2D (with bias) forward and backward on a random batch and compares output and every gradient
    /// with <see cref="ConvolutionNaive"/>; returns the output shape.
    /// </summary>
    internal static int[] AssertMatchesDirectLoops(Conv2D conv, ConvGeometry g, int batch, int outChannels, Rng rng)
    {
        var x = TestData.RandomTensor(rng, batch, g.Channels, g.Height, g.Width);
        var y = conv.Forward(x, training: true);
        var expected = new float[batch * outChannels * g.OutputPixels];
        ConvolutionNaive.Forward(x.Span, conv.Weight.Value.Span, conv.Bias!.Value.Span, expected, batch, outChannels, g);
        TestData.AssertClose(expected, y.Span, 1e-5 * g.PatchSize, 1e-5, "forward");
        var outputShape = y.ShapeArray;

        var δy = TestData.RandomTensor(rng, outputShape);
        var δx = conv.Backward(δy);
        var δxExpected = new float[x.Length];
        var δwExpected = new float[conv.Weight.Value.Length];
        var δbExpected = new float[outChannels];
        ConvolutionNaive.Backward(x.Span, conv.Weight.Value.Span, δy.Span, δxExpected, δwExpected, δbExpected, batch, outChannels, g);
        TestData.AssertClose(δxExpected, δx.Span, 1e-5 * outChannels * g.Kernel * g.Kernel, 1e-5, "δinput");
        TestData.AssertClose(δwExpected, conv.Weight.Gradient.Span, 1e-5 * batch * g.OutputPixels, 1e-5, "δweight");
        TestData.AssertClose(δbExpected, conv.Bias.Gradient.Span, 1e-5 * batch * g.OutputPixels, 1e-5, "δbias");
        return outputShape;
    }

    [Theory]
    [InlineData(3, 7, 9, 3, 2, 2)]
    [InlineData(3, 19, 13, 3, 1, 1)]   // the stride-1 vector path, rows longer than a vector
    [InlineData(2, 6, 5, 5, 1, 3)]     // padding wider than the valid part
    public void Im2ColBackwardIsTheAdjointOfForward(int channels, int height, int width, int kernel, int stride, int padding)
    {
        // <im2col(x), c> must equal <x, col2im(c)> for any x, c: the defining property of an adjoint.
        var rng = new Rng(11);
        var g = new ConvGeometry(channels, height, width, kernel, stride, padding);
        var x = TestData.Random(g.Channels * g.InputPixels, rng);
        var c = TestData.Random(g.PatchSize * g.OutputPixels, rng);
        var col = new float[c.Length];
        Im2Col.Forward(x, col, g);
        var back = new float[x.Length];
        Im2Col.BackwardAccumulate(c, back, g);
        double left = 0, right = 0;
        for (int i = 0; i < c.Length; i++) left += (double)col[i] * c[i];
        for (int i = 0; i < x.Length; i++) right += (double)x[i] * back[i];
        Assert.Equal(left, right, 4);
    }

    [Fact]
    public void SameResultWithOneThreadOrMany()
    {
        var rng = new Rng(5);
        var x = TestData.RandomTensor(rng, 6, 3, 12, 12);
        var δy = TestData.RandomTensor(rng, 6, 8, 12, 12);
        float[] Run(int threads)
        {
            int saved = Threads.Count;
            Threads.Count = threads;
            try
            {
                var conv = new Conv2D(3, 8, 3, 1, 1);
                conv.Build([3, 12, 12], new Rng(1));
                conv.Forward(x, true);
                conv.Backward(δy);
                return conv.Weight.Gradient.Span.ToArray();
            }
            finally { Threads.Count = saved; }
        }
        var one = Run(1);
        var three = Run(3);
        TestData.AssertClose(one, three, 1e-4, 1e-5, "δweight across thread counts");
    }
}
