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

    /// <summary>The first layer's weight and bias gradients by direct loops against the twin, δy masked by a ReLU or not, in two calls that accumulate.</summary>
    [WinogradTheory]
    [InlineData(3, 1, 32, 28, 28, 1, true)]
    [InlineData(2, 3, 16, 48, 48, 1, true)]
    [InlineData(3, 3, 5, 7, 9, 1, false)]
    [InlineData(2, 2, 3, 5, 17, 2, true)]
    [InlineData(3, 4, 4, 19, 6, 0, false)]
    [InlineData(2, 1, 2, 3, 3, 0, true)]
    public void WeightGradientMatchesTheDirectLoops(int batch, int channels, int outChannels, int height, int width, int padding, bool relu)
    {
        var g = new ConvGeometry(channels, height, width, 3, 1, padding);
        var rng = new Rng((ulong)(batch * 1000 + channels * 100 + height * 10 + width + padding));
        var x = TestData.Random(batch * channels * g.InputPixels, rng);
        var y = TestData.Random(batch * outChannels * g.OutputPixels, rng);   // the mask: y > 0
        var δy = TestData.Random(y.Length, rng);
        var δz = relu ? δy.Select((d, i) => y[i] > 0 ? d : 0).ToArray() : δy;
        var expectedδw = new float[outChannels * g.PatchSize];
        var expectedδb = new float[outChannels];
        ConvolutionNaive.Backward(x, new float[outChannels * g.PatchSize], δz, new float[x.Length], expectedδw, expectedδb, batch, outChannels, g);

        var δw = TestData.Random(expectedδw.Length, rng);   // overwritten by the first call
        var δb = new double[outChannels];
        δb.AsSpan().Fill(double.NaN);
        var padded = new float[DirectConvolution.PaddedImageSize(g)];
        var plane = new float[DirectConvolution.GradientPlaneSize(g)];
        padded.AsSpan().Fill(float.NaN);
        plane.AsSpan().Fill(float.NaN);
        int first = batch / 2, imageSize = channels * g.InputPixels, outputSize = outChannels * g.OutputPixels;
        var activation = relu ? Activation.ReLU : Activation.None;
        DirectConvolution.WeightGradient(δy.AsSpan(0, first * outputSize), x.AsSpan(0, first * imageSize), relu ? y.AsSpan(0, first * outputSize) : default,
                                         first, outChannels, g, activation, accumulate: false, padded, plane, δw, δb);
        DirectConvolution.WeightGradient(δy.AsSpan(first * outputSize), x.AsSpan(first * imageSize), relu ? y.AsSpan(first * outputSize) : default,
                                         batch - first, outChannels, g, activation, accumulate: true, padded, plane, δw, δb);
        double tolerance = 1e-5 * batch * g.OutputPixels;
        TestData.AssertClose(expectedδw, δw, tolerance, 1e-5, "δweight");
        TestData.AssertClose(expectedδb, δb.Select(v => (float)v).ToArray(), tolerance, 1e-5, "δbias");
    }

    /// <summary>A model's first layer takes its weight gradient from the direct loops in training and matches im2col's.</summary>
    [WinogradFact]
    public void TrainingUsesTheDirectWeightGradientForTheFirstLayer()
    {
        var layers = new Ongko.Layers.Layer[] { new Ongko.Layers.Conv2D(3, 8, 3, 1, 1), new Ongko.Layers.ReLU(), new Ongko.Layers.MaxPool2D(2, 2),
                                                new Ongko.Layers.Flatten(), new Ongko.Layers.Linear(4) };
        var model = new Ongko.Models.Sequential(layers).Build([3, 10, 10], new Rng(21));
        var step = Assert.IsType<Ongko.Models.ConvolutionStep>(model.TrainingPlan.Steps[0]);
        Assert.Equal(ConvolutionAlgorithm.Direct, Ongko.Models.ExecutionPlan.ChooseWeightGradientAlgorithm(step.Conv));
        var x = TestData.RandomTensor(new Rng(22), 5, 3, 10, 10);
        var δlogits = TestData.RandomTensor(new Rng(23), 5, 4);
        model.Forward(x, training: true);
        model.BackwardParametersFromLogits(δlogits);   // the training backward pass: no δinput for the first step
        var direct = (step.Conv.Weight.Gradient.Span.ToArray(), step.Conv.Bias!.Gradient.Span.ToArray());
        // im2col + GEMM for the same layer: its own backward without the plan
        var δy = model.TrainingPlan.Steps[1].Backward(model.TrainingPlan.Steps[2].Backward(model.TrainingPlan.Steps[3].Backward(δlogits, true)!, true)!, true)!;
        step.Conv.Backward(δy, Activation.ReLU, inputGradient: false);
        TestData.AssertClose(step.Conv.Weight.Gradient.Span, direct.Item1, 1e-4, 1e-4, "δweight");
        TestData.AssertClose(step.Conv.Bias.Gradient.Span, direct.Item2, 1e-4, 1e-4, "δbias");
        Assert.NotEqual(step.Conv.Weight.Gradient.Span.ToArray(), direct.Item1);   // two different computations
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
