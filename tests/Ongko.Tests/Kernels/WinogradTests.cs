using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>A test of the Winograd kernel: skipped with a message on a CPU without AVX2 (its transforms need it).</summary>
public sealed class WinogradFactAttribute : FactAttribute
{
    public WinogradFactAttribute() { if (!Winograd.Supports(new ConvGeometry(1, 3, 3, 3, 1, 0))) Skip = "Winograd F(2x2, 3x3) needs AVX2; this CPU has none"; }
}

public sealed class WinogradTheoryAttribute : TheoryAttribute
{
    public WinogradTheoryAttribute() { if (!Winograd.Supports(new ConvGeometry(1, 3, 3, 3, 1, 0))) Skip = "Winograd F(2x2, 3x3) needs AVX2; this CPU has none"; }
}

/// <summary>Winograd F(2x2, 3x3): the fast kernel and its per-tile twin against the direct loops, and the plan's use of it.</summary>
[Collection(ThreadCountCollection.Name)]
public class WinogradTests
{
    /// <summary>batch, channels, output channels, height, width, padding: odd and even sizes, 1/3/32 channels, vectors that overrun rows.</summary>
    public static IEnumerable<object[]> Shapes()
    {
        yield return [1, 1, 1, 3, 3, 0];
        yield return [1, 1, 32, 28, 28, 1];
        yield return [2, 3, 5, 7, 9, 1];
        yield return [3, 32, 7, 14, 14, 1];
        yield return [1, 32, 64, 7, 7, 1];
        yield return [2, 5, 3, 5, 17, 2];
        yield return [4, 2, 4, 19, 6, 0];
        yield return [1, 4, 2, 1, 1, 1];
        yield return [2, 3, 3, 2, 35, 1];
        var rng = new Rng(77);
        for (int i = 0; i < 8; i++)
        {
            int padding = rng.NextInt(3);
            yield return [1 + rng.NextInt(4), 1 + rng.NextInt(9), 1 + rng.NextInt(9), Math.Max(1, 3 - 2 * padding) + rng.NextInt(20),
                          Math.Max(1, 3 - 2 * padding) + rng.NextInt(20), padding];
        }
    }

    [WinogradTheory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesTheDirectLoops(int batch, int channels, int outChannels, int height, int width, int padding)
    {
        foreach (var kernel in GemmTests.Kernels())   // the AVX-512 transforms and products, and the AVX2 ones with the GEMM's
        {
            using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
            ForwardMatchesTheDirectLoopsOn(batch, channels, outChannels, height, width, padding);
        }
    }

    static void ForwardMatchesTheDirectLoopsOn(int batch, int channels, int outChannels, int height, int width, int padding)
    {
        var g = new ConvGeometry(channels, height, width, 3, 1, padding);
        var rng = new Rng((ulong)(batch * 1000 + channels * 100 + height * 10 + width + padding));
        var x = TestData.Random(batch * channels * g.InputPixels, rng);
        var weight = TestData.Random(outChannels * channels * 9, rng, 0.5f);
        var bias = TestData.Random(outChannels, rng);
        var expected = new float[batch * outChannels * g.OutputPixels];
        ConvolutionNaive.Forward(x, weight, bias, expected, batch, outChannels, g);
        double tolerance = 1e-5 * channels * 9;

        var twin = new float[expected.Length];
        Winograd.ForwardNaive(x, weight, bias, batch, outChannels, g, twin);
        TestData.AssertClose(expected, twin, 1e-9 * channels * 9, 1e-9, "per-tile twin");

        var u = new float[16 * outChannels * channels];
        Winograd.TransformWeights(weight, outChannels, channels, u);
        var y = new float[expected.Length];
        y.AsSpan().Fill(float.NaN);   // every output element must be written
        Forward(x, u, bias, default, batch, outChannels, g, Activation.None, y);
        TestData.AssertClose(expected, y, tolerance, 1e-5, "Winograd");

        // A folded batch normalisation and ReLU: y = max(scale·conv + shift, 0).
        var scale = TestData.Random(outChannels, rng, 2f);
        Forward(x, u, bias, scale, batch, outChannels, g, Activation.ReLU, y);
        ConvolutionNaive.Forward(x, weight, default, expected, batch, outChannels, g);
        for (int i = 0; i < expected.Length; i++)
        {
            int oc = i / g.OutputPixels % outChannels;
            expected[i] = Math.Max(0, expected[i] * scale[oc] + bias[oc]);
        }
        TestData.AssertClose(expected, y, 2 * tolerance, 1e-5, "Winograd, scale + shift + ReLU");

        // The same with 2x2 stride-2 max pooling in the output pass, against pooling the result above (odd sizes round down).
        var pooledExpected = WinogradTests.MaxPool2x2(expected, batch * outChannels, g.OutputHeight, g.OutputWidth);
        var pooled = new float[pooledExpected.Length];
        pooled.AsSpan().Fill(float.NaN);
        Forward(x, u, bias, scale, batch, outChannels, g, Activation.ReLU, pooled, maxPool: true);
        TestData.AssertClose(pooledExpected, pooled, 2 * tolerance, 1e-5, "Winograd + ReLU + max pooling");
    }

    /// <summary>2x2 stride-2 max pooling of [planes, height, width] by plain loops (odd sizes round down, as MaxPool2D).</summary>
    internal static float[] MaxPool2x2(float[] x, int planes, int height, int width)
    {
        int pooledHeight = height / 2, pooledWidth = width / 2;
        var pooled = new float[planes * pooledHeight * pooledWidth];
        for (int plane = 0; plane < planes; plane++)
            for (int row = 0; row < pooledHeight; row++)
                for (int column = 0; column < pooledWidth; column++)
                {
                    int at = (plane * height + 2 * row) * width + 2 * column;
                    pooled[(plane * pooledHeight + row) * pooledWidth + column] =
                        Math.Max(Math.Max(x[at], x[at + 1]), Math.Max(x[at + width], x[at + width + 1]));
                }
        return pooled;
    }

    /// <summary>Runs <see cref="Winograd.Forward"/> on the batch as one group, with work buffers filled with garbage first.</summary>
    static void Forward(float[] x, float[] u, float[] bias, float[]? scale, int batch, int outChannels, ConvGeometry g, Activation activation, float[] y,
        bool maxPool = false)
    {
        int rowLength = Winograd.RowLength(g, batch);
        var v = new float[16 * g.Channels * rowLength];
        var m = new float[16 * outChannels * rowLength];
        var padded = new float[Winograd.PaddedPlaneSize(g)];
        v.AsSpan().Fill(float.NaN);
        m.AsSpan().Fill(float.NaN);
        padded.AsSpan().Fill(float.NaN);
        Winograd.Forward(x, u, bias, scale, batch, outChannels, g, activation, v, m, padded, y, maxPool);
    }

    [Fact]
    public void RefusesOtherGeometries()
    {
        var x = new float[2 * 2 * 8 * 8];
        Assert.Throws<ArgumentException>(() => Winograd.Forward(x, new float[16 * 4], default, default, 1, 2, new ConvGeometry(2, 8, 8, 3, 2, 1),
                                                                Activation.None, new float[1000], new float[1000], new float[1000], new float[1000]));
        Assert.Throws<ArgumentException>(() => Winograd.Forward(x, new float[16 * 4], default, default, 1, 2, new ConvGeometry(2, 8, 8, 3, 1, 1),
                                                                Activation.None, new float[10], new float[1000], new float[1000], new float[1000]));
    }

    /// <summary>
    /// The evaluation plan computes the 3x3 layers with enough channels by Winograd (a 2x2 max pooling after them in the
    /// same pass), the one-channel first layer by direct loops, and gives the im2col plan's output; after weights change it transforms
    /// them again. Batches split over 2 workers as well; small batches take im2col and the pooling layer.
    /// </summary>
    [WinogradTheory]
    [InlineData(1, 24, true)]
    [InlineData(2, 25, true)]
    [InlineData(1, 1, false)]
    [InlineData(2, 5, false)]
    public void EvaluationPlanUsesWinogradAndMatchesIm2Col(int threads, int batch, bool winograd)
    {
        int saved = Threads.Count;
        Threads.Count = threads;
        try
        {
            var model = new Sequential([new Conv2D(1, 16, 3, 1, 1, false), new BatchNorm2D(16), new ReLU(), new MaxPool2D(2, 2),
                                        new Conv2D(16, 32, 3, 1, 1), new ReLU(), new MaxPool2D(2, 2),
                                        new Conv2D(32, 20, 3, 1, 1, false), new BatchNorm2D(20), new MaxPool2D(2, 2),
                                        new Flatten(), new Linear(10)]).Build([1, 17, 17], new Rng(5));
            var steps = model.EvaluationPlan.Steps;
            var first = Assert.IsType<ConvolutionStep>(steps[0]);   // one input channel: direct loops at any batch, pooled in the same pass
            Assert.Equal((0, 4, ConvolutionAlgorithm.Direct), (first.FirstLayer, first.LayerCount, first.Algorithm(batch)));
            var expected = winograd ? ConvolutionAlgorithm.Winograd : ConvolutionAlgorithm.Im2ColGemm;
            var middle = Assert.IsType<ConvolutionStep>(steps[1]);
            Assert.Equal((4, 3, Activation.ReLU, 6), (middle.FirstLayer, middle.LayerCount, middle.Activation, model.Layers.ToList().IndexOf(middle.MaxPool!)));
            Assert.Equal(expected, middle.Algorithm(batch));
            Assert.Equal(ConvolutionAlgorithm.Winograd, middle.Algorithm(64));
            var last = Assert.IsType<ConvolutionStep>(steps[2]);
            Assert.Equal((7, 3, Activation.None), (last.FirstLayer, last.LayerCount, last.Activation));
            Assert.NotNull(last.BatchNorm);
            Assert.Equal(expected, last.Algorithm(batch));
            // Training keeps the pooling layers (their argmax) and BatchNorm; only the algorithm is chosen there.
            Assert.All(model.TrainingPlan.Steps.OfType<ConvolutionStep>(), step => Assert.Null(step.MaxPool ?? (object?)step.BatchNorm));
            var rng = new Rng(8);
            foreach (var layer in model.Layers.OfType<BatchNorm>())
            {
                TestData.Random(layer.RunningMean.Length, rng, 0.3f).CopyTo(layer.RunningMean.Span);
                TestData.Random(layer.Weight.Value.Length, rng).CopyTo(layer.Weight.Value.Span);
            }
            var x = TestData.RandomTensor(rng, batch, 1, 17, 17);
            for (int round = 0; round < 2; round++)
            {
                var planned = model.Forward(x, training: false).Span.ToArray();
                // The same layers one by one: no folding, no fusion, im2col.
                var layerByLayer = x;
                foreach (var layer in model.Layers) layerByLayer = layer.Forward(layerByLayer, training: false);
                TestData.AssertClose(layerByLayer.Span.ToArray(), planned, 1e-4, 1e-4, $"logits, round {round}");
                ((Conv2D)model.Layers[7]).Weight.Value.Span[7] += 0.5f;   // training or a checkpoint load changed it
            }
        }
        finally { Threads.Count = saved; }
    }

    /// <summary>Without a folded BatchNorm the Winograd step has the layer's backward pass (im2col from the cached input and output).</summary>
    [WinogradFact]
    public void BackwardAfterAWinogradForward()
    {
        var model = new Sequential([new Conv2D(16, 8, 3, 1, 1), new ReLU()]).Build([16, 6, 6], new Rng(3));
        Assert.Equal(ConvolutionAlgorithm.Winograd, Assert.IsType<ConvolutionStep>(model.EvaluationPlan.Steps[0]).Algorithm(16));
        var x = TestData.RandomTensor(new Rng(4), 16, 16, 6, 6);
        var δy = TestData.RandomTensor(new Rng(5), 16, 8, 6, 6);
        model.Forward(x, training: true);
        var expected = model.Backward(δy).Span.ToArray();
        var expectedδw = ((Conv2D)model.Layers[0]).Weight.Gradient.Span.ToArray();
        model.Forward(x, training: false);
        TestData.AssertClose(expected, model.Backward(δy).Span, 1e-4, 1e-4, "δinput");
        TestData.AssertClose(expectedδw, ((Conv2D)model.Layers[0]).Weight.Gradient.Span, 1e-4, 1e-4, "δweight");
    }
}
