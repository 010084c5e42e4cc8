using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>The direct convolution for few input channels against the direct-loop twin, with scale, shift, ReLU and max pooling.</summary>
public class DirectConvolutionTests
{
    /// <summary>batch, channels (1-4), output channels (blocks of 4 and a remainder), height, width, kernel, padding.</summary>
    public static IEnumerable<object[]> Shapes()
    {
        yield return [1, 1, 32, 28, 28, 3, 1];
        yield return [2, 3, 16, 48, 48, 3, 1];
        yield return [3, 3, 5, 7, 9, 3, 1];
        yield return [1, 2, 7, 5, 17, 5, 2];
        yield return [2, 4, 4, 19, 6, 3, 0];
        yield return [1, 1, 1, 1, 1, 1, 0];
        yield return [2, 1, 9, 2, 35, 3, 1];
        var rng = new Rng(303);
        for (int i = 0; i < 8; i++)
        {
            int kernel = 1 + 2 * rng.NextInt(3), padding = rng.NextInt(kernel / 2 + 1);
            yield return [1 + rng.NextInt(3), 1 + rng.NextInt(4), 1 + rng.NextInt(10), kernel + rng.NextInt(20), kernel + rng.NextInt(20), kernel, padding];
        }
    }

    [WinogradTheory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesTheDirectLoops(int batch, int channels, int outChannels, int height, int width, int kernel, int padding)
    {
        var g = new ConvGeometry(channels, height, width, kernel, 1, padding);
        var rng = new Rng((ulong)(batch * 1000 + channels * 100 + height * 10 + width + kernel * 7 + padding));
        var x = TestData.Random(batch * channels * g.InputPixels, rng);
        var weight = TestData.Random(outChannels * g.PatchSize, rng, 0.5f);
        var bias = TestData.Random(outChannels, rng);
        var scale = TestData.Random(outChannels, rng, 2f);
        var padded = new float[DirectConvolution.PaddedImageSize(g)];
        padded.AsSpan().Fill(float.NaN);   // garbage in the work buffer must not matter
        double tolerance = 1e-5 * g.PatchSize;

        var expected = new float[batch * outChannels * g.OutputPixels];
        ConvolutionNaive.Forward(x, weight, bias, expected, batch, outChannels, g);
        var y = new float[expected.Length];
        y.AsSpan().Fill(float.NaN);   // every output element must be written
        DirectConvolution.Forward(x, weight, bias, default, batch, outChannels, g, Activation.None, padded, y);
        TestData.AssertClose(expected, y, tolerance, 1e-5, "direct, + bias");

        ConvolutionNaive.Forward(x, weight, default, expected, batch, outChannels, g);
        for (int i = 0; i < expected.Length; i++)
        {
            int oc = i / g.OutputPixels % outChannels;
            expected[i] = Math.Max(0, expected[i] * scale[oc] + bias[oc]);
        }
        DirectConvolution.Forward(x, weight, bias, scale, batch, outChannels, g, Activation.ReLU, padded, y);
        TestData.AssertClose(expected, y, 2 * tolerance, 1e-5, "direct, scale + shift + ReLU");

        int pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2;
        var pooledExpected = new float[batch * outChannels * pooledHeight * pooledWidth];
        for (int plane = 0; plane < batch * outChannels; plane++)
            for (int row = 0; row < pooledHeight; row++)
                for (int column = 0; column < pooledWidth; column++)
                {
                    int at = plane * g.OutputPixels + 2 * row * g.OutputWidth + 2 * column;
                    pooledExpected[(plane * pooledHeight + row) * pooledWidth + column] =
                        Math.Max(Math.Max(expected[at], expected[at + 1]), Math.Max(expected[at + g.OutputWidth], expected[at + g.OutputWidth + 1]));
                }
        var pooled = new float[pooledExpected.Length];
        pooled.AsSpan().Fill(float.NaN);
        DirectConvolution.Forward(x, weight, bias, scale, batch, outChannels, g, Activation.ReLU, padded, pooled, maxPool: true);
        TestData.AssertClose(pooledExpected, pooled, 2 * tolerance, 1e-5, "direct + ReLU + max pooling");
    }

    [Fact]
    public void RefusesOtherGeometries()
    {
        var x = new float[5 * 8 * 8];
        Assert.Throws<ArgumentException>(() => DirectConvolution.Forward(x, new float[2 * 45], default, default, 1, 2, new ConvGeometry(5, 8, 8, 3, 1, 1),
                                                                         Activation.None, new float[10000], new float[1000]));
        Assert.Throws<ArgumentException>(() => DirectConvolution.Forward(x, new float[2 * 9], default, default, 1, 2, new ConvGeometry(1, 8, 8, 3, 2, 1),
                                                                         Activation.None, new float[10000], new float[1000]));
    }
}
