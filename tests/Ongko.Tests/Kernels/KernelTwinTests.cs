using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>Kernels called directly against their plain twins: rectifier, max pooling, convolution with an activation.</summary>
public class KernelTwinTests
{
    [Fact]
    public void RectifierMatchesItsTwin()
    {
        var rng = new Rng(1);
        var x = TestData.Random(37, rng);   // not a multiple of the vector width: a scalar tail
        x[3] = float.NaN; x[5] = -0f; x[6] = 0f;
        var δy = TestData.Random(x.Length, rng);
        float[] y = new float[x.Length], yNaive = new float[x.Length], δx = new float[x.Length], δxNaive = new float[x.Length];
        Rectifier.Forward(x, y);
        Rectifier.ForwardNaive(x, yNaive);
        Assert.Equal(yNaive, y);
        Assert.True(float.IsNaN(y[3]));
        Rectifier.Backward(y, δy, δx);
        Rectifier.BackwardNaive(y, δy, δxNaive);
        Assert.Equal(δxNaive, δx);
        Assert.Contains(δx, v => v == 0);
    }

    /// <summary>
    /// The vector 2x2 paths (AVX-512: 16 windows with masked short rows; AVX2: 8 and 4 lanes, spilling rows) and the plain loop give
    /// the same outputs and winners, by every kernel this CPU has; the backward pass overwrites all of δx.
    /// </summary>
    [Theory]
    [InlineData(5, 14, 14, 2, 2)]
    [InlineData(3, 7, 7, 2, 2)]
    [InlineData(2, 48, 48, 2, 2)]
    [InlineData(4, 15, 17, 2, 2)]
    [InlineData(3, 70, 67, 2, 2)]   // rows of more than 32 windows
    [InlineData(6, 24, 24, 2, 2)]
    [InlineData(2, 9, 11, 3, 2)]
    public void MaxPoolMatchesItsTwin(int planes, int height, int width, int k, int s)
    {
        foreach (var kernel in Enum.GetValues<GemmKernel>().Where(kernel => kernel <= Gemm.Best))
        {
            var rng = new Rng((ulong)(planes * 100 + height));
            var g = new ConvGeometry(1, height, width, k, s, 0);
            var x = new float[planes * g.InputPixels];
            for (int i = 0; i < x.Length; i++) x[i] = rng.NextInt(7) - 3;   // many ties
            x[rng.NextInt(x.Length)] = float.NaN;
            x[rng.NextInt(x.Length)] = float.NaN;
            float[] y = Enumerable.Repeat(float.NaN, planes * g.OutputPixels).ToArray(), yNaive = new float[y.Length];
            int[] winners = Enumerable.Repeat(-1, y.Length).ToArray(), winnersNaive = new int[y.Length];
            MaxPool.Forward(kernel, x, planes, g, y, winners);
            MaxPool.ForwardNaive(x, planes, g, yNaive, winnersNaive);
            Assert.Equal(yNaive, y);
            Assert.Equal(winnersNaive, winners);
            var δy = TestData.Random(y.Length, rng);
            δy[0] = -0f;
            float[] δx = Enumerable.Repeat(float.NaN, x.Length).ToArray(), δxNaive = new float[x.Length];
            MaxPool.Backward(δy, winners, planes, g, δx);
            MaxPool.BackwardNaive(x, δy, planes, g, δxNaive);
            Assert.Equal(δxNaive.Select(BitConverter.SingleToInt32Bits), δx.Select(BitConverter.SingleToInt32Bits));   // zeros' signs too
        }
    }

    /// <summary>
    /// A group of images side by side with a bias and a ReLU, forward and backward, against the direct loops
    /// followed by the rectifier's twin.
    /// </summary>
    [Theory]
    [InlineData(1, 3, 5, 9, 9, 1, 1)]
    [InlineData(4, 2, 6, 7, 7, 1, 1)]
    [InlineData(3, 3, 4, 8, 6, 2, 0)]
    public void ConvolutionWithReLUMatchesDirectLoopsThenRectifier(int count, int channels, int outChannels, int height, int width, int stride, int padding)
    {
        var rng = new Rng((ulong)(count * 10 + channels));
        var g = new ConvGeometry(channels, height, width, 3, stride, padding);
        int width2 = count * g.OutputPixels;
        var x = TestData.Random(count * channels * g.InputPixels, rng);
        var weight = TestData.Random(outChannels * g.PatchSize, rng);
        var bias = TestData.Random(outChannels, rng);
        var y = new float[count * outChannels * g.OutputPixels];
        float[] col = new float[g.PatchSize * width2], group = new float[outChannels * width2], δcol = new float[col.Length];
        Convolution.Forward(x, weight, bias, default, count, outChannels, g, Activation.ReLU, parallel: false, col, group, y);
        var expected = new float[y.Length];
        ConvolutionNaive.Forward(x, weight, bias, expected, count, outChannels, g);
        Rectifier.ForwardNaive(expected, expected);
        TestData.AssertClose(expected, y, 1e-5 * g.PatchSize, 1e-5, "forward");
        Assert.Contains(y, v => v == 0);

        var δy = TestData.Random(y.Length, rng);
        var δx = new float[x.Length];
        var δw = new float[weight.Length];
        var δb = new double[outChannels];
        Convolution.Backward(δy, x, y, weight, count, outChannels, g, Activation.ReLU, accumulate: false, parallel: false, col, group, δcol, δw, δb, δx);
        var δz = new float[δy.Length];
        Rectifier.BackwardNaive(y, δy, δz);
        float[] δxExpected = new float[x.Length], δwExpected = new float[weight.Length], δbExpected = new float[outChannels];
        ConvolutionNaive.Backward(x, weight, δz, δxExpected, δwExpected, δbExpected, count, outChannels, g);
        TestData.AssertClose(δxExpected, δx, 1e-5 * outChannels * 9, 1e-5, "δinput");
        TestData.AssertClose(δwExpected, δw, 1e-5 * count * g.OutputPixels, 1e-5, "δweight");
        TestData.AssertClose(δbExpected, δb.Select(v => (float)v).ToArray(), 1e-5 * count * g.OutputPixels, 1e-5, "δbias");
    }
}
