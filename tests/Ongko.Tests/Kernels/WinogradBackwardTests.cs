using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// The Winograd backward pass (weight gradient in Winograd's domain, δx by the flipped filters): the kernels and the
/// per-tile twin against the direct loops, and the layer's Winograd backward against its im2col backward.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class WinogradBackwardTests
{
    [WinogradTheory]
    [MemberData(nameof(WinogradTests.Shapes), MemberType = typeof(WinogradTests))]
    public void GradientsMatchTheDirectLoops(int batch, int channels, int outChannels, int height, int width, int padding)
    {
        foreach (var kernel in GemmTests.Kernels())   // the AVX-512 transforms and products, and the AVX2 ones with the GEMM's
        {
            using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
            GradientsMatchTheDirectLoopsOn(batch, channels, outChannels, height, width, padding);
        }
    }

    static void GradientsMatchTheDirectLoopsOn(int batch, int channels, int outChannels, int height, int width, int padding)
    {
        var g = new ConvGeometry(channels, height, width, 3, 1, padding);
        var rng = new Rng((ulong)(batch * 1000 + channels * 100 + height * 10 + width + padding + 7));
        var x = TestData.Random(batch * channels * g.InputPixels, rng);
        var weight = TestData.Random(outChannels * channels * 9, rng, 0.5f);
        var δy = TestData.Random(batch * outChannels * g.OutputPixels, rng);
        var expectedδx = new float[x.Length];
        var expectedδw = new float[weight.Length];
        ConvolutionNaive.Backward(x, weight, δy, expectedδx, expectedδw, default, batch, outChannels, g);
        double terms = batch * g.OutputPixels;   // a weight gradient sums this many products

        var twin = new float[weight.Length];
        WinogradBackward.WeightGradientNaive(x, δy, batch, outChannels, g, twin);
        TestData.AssertClose(expectedδw, twin, 1e-9 * terms, 1e-9, "per-tile twin, δweight");

        // The fast kernel: the batch as one group, and as two groups where the second adds to the first's δU.
        var δw = new float[weight.Length];
        var δu = WeightGradient(x, δy, 0, batch, outChannels, g, accumulate: false);
        WinogradBackward.FinishWeightGradient(δu, outChannels, channels, δw);
        TestData.AssertClose(expectedδw, δw, 1e-5 * terms, 1e-5, "Winograd δweight, one group");
        if (batch > 1)
        {
            var first = WeightGradient(x, δy, 0, 1, outChannels, g, accumulate: false);
            var both = WeightGradient(x, δy, 1, batch - 1, outChannels, g, accumulate: true, first);
            δw.AsSpan().Fill(float.NaN);
            WinogradBackward.FinishWeightGradient(both, outChannels, channels, δw);
            TestData.AssertClose(expectedδw, δw, 1e-5 * terms, 1e-5, "Winograd δweight, two groups");
        }

        // δx: the forward kernel on δy with the flipped, transposed filters at padding 2 − p.
        var flipped = WinogradBackward.InputGradientGeometry(g, outChannels);
        Assert.Equal((height, width), (flipped.OutputHeight, flipped.OutputWidth));
        var ũ = new float[16 * channels * outChannels];
        WinogradBackward.TransformFlippedWeights(weight, outChannels, channels, ũ);
        int rowLength = Winograd.RowLength(flipped, batch);
        var v = Filled(16 * outChannels * rowLength);
        var m = Filled(16 * channels * rowLength);
        var δx = Filled(x.Length);   // every element must be written
        Winograd.Forward(δy, ũ, default, default, batch, channels, flipped, Activation.None, v, m, Filled(Winograd.PaddedPlaneSize(flipped)), δx);
        TestData.AssertClose(expectedδx, δx, 1e-5 * outChannels * 9, 1e-5, "Winograd δx");
    }

    static float[] Filled(int length)
    {
        var values = new float[length];
        values.AsSpan().Fill(float.NaN);   // garbage in the work buffers must not matter
        return values;
    }

    /// <summary>δU of images [first, first + count), with work buffers filled with NaN; added to <paramref name="δu"/> with accumulate.</summary>
    static float[] WeightGradient(float[] x, float[] δy, int first, int count, int outChannels, ConvGeometry g, bool accumulate, float[]? δu = null)
    {
        int rowLength = Winograd.RowLength(g, count), imageSize = g.Channels * g.InputPixels, outputSize = outChannels * g.OutputPixels;
        δu ??= Filled(16 * outChannels * g.Channels);
        WinogradBackward.WeightGradient(x.AsSpan(first * imageSize, count * imageSize), δy.AsSpan(first * outputSize, count * outputSize), count,
                                        outChannels, g, Filled(16 * g.Channels * rowLength), Filled(16 * outChannels * rowLength),
                                        Filled(Winograd.PaddedPlaneSize(g)), Filled(WinogradBackward.PaddedGradientPlaneSize(g)), δu, accumulate);
        return δu;
    }

    /// <summary>
    /// Conv2D's Winograd backward (groups of a few images per worker, bias, fused ReLU, with and without δx) gives its im2col
    /// backward's gradients, at 1 and 2 threads, on every GEMM kernel; with an odd output height and no AVX-512 products its parameter
    /// gradients come from im2col, δx from Winograd.
    /// </summary>
    [WinogradTheory]
    [InlineData(1, true, true, 8)]
    [InlineData(2, true, false, 8)]
    [InlineData(2, false, true, 8)]
    [InlineData(1, false, false, 8)]
    [InlineData(1, true, true, 9)]
    [InlineData(2, true, false, 9)]
    [InlineData(2, false, true, 9)]
    public void LayerBackwardMatchesIm2Col(int threads, bool bias, bool relu, int height)
    {
        int savedThreads = Threads.Count, savedColumns = Conv2D.WinogradColumns, savedBackwardColumns = Conv2D.WinogradBackwardColumns;
        Threads.Count = threads;
        Conv2D.WinogradColumns = 40;           // forward: groups of 2 images (20 or 25 tiles each)
        Conv2D.WinogradBackwardColumns = 60;   // backward: groups of 3: several per worker, the last one short
        try
        {
            foreach (var kernel in GemmTests.Kernels())
            {
                using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
                CheckLayerBackward(bias, relu, height, channels: 6, outChannels: 5);
                CheckLayerBackward(bias, relu, height, channels: 16, outChannels: 8);   // WinogradProducts' AVX-512 blocks
            }
        }
        finally { (Threads.Count, Conv2D.WinogradColumns, Conv2D.WinogradBackwardColumns) = (savedThreads, savedColumns, savedBackwardColumns); }
    }

    static void CheckLayerBackward(bool bias, bool relu, int height, int channels, int outChannels)
    {
        {
            var conv = new Conv2D(channels, outChannels, 3, 1, 1, bias);
            conv.Build([channels, height, 10], new Rng(11));
            Assert.Equal(height % 2 == 0 || (Gemm.Kernel == GemmKernel.Avx512 && channels == 16),
                         WinogradBackward.WeightGradientPays(conv.Geometry, outChannels));
            var rng = new Rng(12);
            var x = TestData.RandomTensor(rng, 7, channels, height, 10);
            var δy = TestData.RandomTensor(rng, 7, outChannels, height, 10);
            var activation = relu ? Activation.ReLU : Activation.None;
            conv.Forward(x, training: true, activation, ConvolutionAlgorithm.Im2ColGemm);
            var expectedδx = conv.Backward(δy, activation, inputGradient: true, ConvolutionAlgorithm.Im2ColGemm)!.Span.ToArray();
            var expectedδw = conv.Weight.Gradient.Span.ToArray();
            var expectedδb = bias ? conv.Bias!.Gradient.Span.ToArray() : [];
            for (int round = 0; round < 2; round++)
            {
                conv.Forward(x, training: true, activation, ConvolutionAlgorithm.Winograd);
                conv.Weight.Gradient.Fill(float.NaN);
                var δx = conv.Backward(δy, activation, inputGradient: round == 0, ConvolutionAlgorithm.Winograd);
                if (round == 0) TestData.AssertClose(expectedδx, δx!.Span, 1e-4, 1e-4, "δinput");
                else Assert.Null(δx);
                TestData.AssertClose(expectedδw, conv.Weight.Gradient.Span, 1e-4, 1e-4, $"δweight, round {round}");
                if (bias) TestData.AssertClose(expectedδb, conv.Bias!.Gradient.Span, 1e-4, 1e-4, $"δbias, round {round}");
            }
        }
    }

    /// <summary>The training plan runs the backward pass of its Winograd layers by Winograd, except where δx's padding 2 − p would be negative.</summary>
    [WinogradFact]
    public void TrainingPlanChoosesTheWinogradBackward()
    {
        var model = new Sequential([new Conv2D(16, 16, 3, 1, 1), new ReLU(), new Conv2D(16, 8, 3, 1, 3)]).Build([16, 8, 8], new Rng(1));
        var steps = model.TrainingPlan.Steps.Cast<ConvolutionStep>().ToList();
        Assert.Equal((ConvolutionAlgorithm.Winograd, ConvolutionAlgorithm.Winograd), (steps[0].Algorithm(64), steps[0].BackwardAlgorithm(64)));
        Assert.Equal((ConvolutionAlgorithm.Winograd, ConvolutionAlgorithm.Im2ColGemm), (steps[1].Algorithm(64), steps[1].BackwardAlgorithm(64)));
        Assert.Equal(ConvolutionAlgorithm.Im2ColGemm, steps[0].BackwardAlgorithm(1));   // a batch too small for Winograd's forward
        var conv = (Conv2D)model.Layers[2];
        conv.Forward(TestData.RandomTensor(new Rng(2), 2, 16, 8, 8), training: true, Activation.None, ConvolutionAlgorithm.Winograd);
        Assert.Throws<ArgumentException>(() => conv.Backward(new Tensor(2, 8, 12, 12), Activation.None, true, ConvolutionAlgorithm.Winograd));
    }
}
