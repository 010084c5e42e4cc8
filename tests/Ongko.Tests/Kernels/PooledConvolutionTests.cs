using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// Training's convolution + ReLU + 2x2 max pooling in one pass (<see cref="PooledConvolution"/>): the kernels against their twins by every
/// kernel this CPU has, and the training plan's step against the layers run one by one.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class PooledConvolutionTests
{
    public static IEnumerable<object[]> Kernels() =>
        Enum.GetValues<GemmKernel>().Where(kernel => kernel <= Gemm.Best).Select(kernel => new object[] { kernel });

    /// <summary>channels, output channels, height, width, kernel, padding (stride 1).</summary>
    static IEnumerable<int[]> Shapes()
    {
        yield return [3, 16, 48, 48, 3, 1];   // model3's first layer
        yield return [1, 32, 28, 28, 3, 1];
        yield return [3, 5, 9, 11, 3, 1];     // odd: the last row and column belong to no window; a ragged block of output channels
        yield return [2, 7, 13, 10, 5, 2];
        yield return [4, 9, 6, 6, 1, 0];
        yield return [1, 4, 7, 40, 3, 0];
        yield return [2, 3, 70, 70, 7, 3];
        var rng = new Rng(808);
        for (int i = 0; i < 6; i++)
        {
            int k = 1 + 2 * rng.NextInt(3), padding = rng.NextInt(k / 2 + 1);
            yield return [1 + rng.NextInt(4), 1 + rng.NextInt(20), k + 1 + rng.NextInt(40), k + 1 + rng.NextInt(40), k, padding];
        }
    }

    /// <summary>Multiples of 1/4 (inputs) and 1/8 (weights, bias, δ): every sum is exact in float, so results must equal the twin's bit for bit, ties included.</summary>
    static float[] Exact(int length, Rng rng, float step) => Enumerable.Range(0, length).Select(_ => (rng.NextInt(5) - 2) * step).ToArray();

    static float[] Garbage(int length) => Enumerable.Repeat(float.NaN, length).ToArray();

    [Theory]
    [MemberData(nameof(Kernels))]
    public void ExactInputsGiveTheTwinsResultsBitForBit(GemmKernel kernel)
    {
        foreach (var shape in Shapes())
        {
            int channels = shape[0], outChannels = shape[1], count = 3;
            var g = new ConvGeometry(channels, shape[2], shape[3], shape[4], 1, shape[5]);
            var rng = new Rng((ulong)(channels * 7919 + outChannels * 104729 + shape[2] * 31 + shape[3] + shape[4]));
            var x = Exact(count * channels * g.InputPixels, rng, 0.25f);
            var weight = Exact(outChannels * g.PatchSize, rng, 0.125f);
            var bias = Exact(outChannels, rng, 0.125f);
            int pooledLength = count * outChannels * (g.OutputHeight / 2) * (g.OutputWidth / 2);
            var δpooled = Exact(pooledLength, rng, 0.125f);
            var scale = Exact(outChannels, rng, 0.5f);   // negative, zero and positive: a folded batch normalisation's scale
            foreach (var activation in new[] { Activation.ReLU, Activation.None })
                foreach (bool withBias in new[] { true, false })
                foreach (bool scaled in new[] { false, true })
                {
                    string what = $"{kernel} {string.Join("x", shape)} {activation} bias {withBias} scaled {scaled}";
                    var b = withBias ? bias : [];
                    var s = scaled ? scale : [];
                    var (expectedPooled, expectedCodes) = (new float[pooledLength], new byte[pooledLength]);
                    PooledConvolution.ForwardNaive(x, weight, s, b, count, outChannels, g, activation, expectedPooled, expectedCodes);
                    var (pooled, codes) = (Garbage(pooledLength), Enumerable.Repeat((byte)77, pooledLength).ToArray());
                    PooledConvolution.Forward(kernel, x, weight, s, b, count, outChannels, g, activation, Garbage(PooledConvolution.PaddedImageSize(g)), pooled, codes);
                    Assert.True(expectedPooled.AsSpan().SequenceEqual(pooled), $"{what}: pooled");
                    Assert.True(expectedCodes.AsSpan().SequenceEqual(codes), $"{what}: codes");
                    if (activation == Activation.ReLU) Assert.Contains(PooledConvolution.NoGradient, codes);   // not vacuous: both kinds occur
                    Assert.Contains((byte)0, codes);

                    var (expectedδWeight, expectedδBias) = (new double[outChannels * g.PatchSize], new double[outChannels]);
                    PooledConvolution.BackwardNaive(δpooled, codes, x, count, outChannels, g, expectedδWeight, expectedδBias);
                    var (δweight, δbias) = (new double[expectedδWeight.Length], new double[outChannels]);
                    PooledConvolution.Backward(kernel, δpooled, codes, x, count, outChannels, g, Garbage(PooledConvolution.PaddedImageSize(g)),
                                               Garbage(PooledConvolution.BandSize(g, outChannels)), Garbage(PooledConvolution.AccumulatorSize(g, outChannels)),
                                               δweight, withBias ? δbias : default);
                    Assert.Equal(expectedδWeight, δweight);
                    Assert.Equal(withBias ? expectedδBias : new double[outChannels], δbias);
                    Assert.Contains(δweight, value => value != 0);
                }
        }
    }

    /// <summary>The input's patch moments (G = XᵀX, S = Σ X over every output pixel) against the twin; exact inputs: bit for bit.</summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void PatchMomentsMatchTheTwin(GemmKernel kernel)
    {
        foreach (var shape in Shapes())
        {
            int channels = shape[0], count = 3;
            var g = new ConvGeometry(channels, shape[2], shape[3], shape[4], 1, shape[5]);
            var x = Exact(count * channels * g.InputPixels, new Rng((ulong)(shape[2] * 7 + shape[3])), 0.25f);
            int taps = g.PatchSize;
            var (expectedGram, expectedSums) = (Enumerable.Repeat(0.5, taps * taps).ToArray(), Enumerable.Repeat(-0.5, taps).ToArray());
            var (gram, sums) = ((double[])expectedGram.Clone(), (double[])expectedSums.Clone());
            PooledConvolution.PatchMomentsNaive(x, count, g, expectedGram, expectedSums);
            PooledConvolution.PatchMoments(kernel, x, count, g, Garbage(PooledConvolution.PaddedImageSize(g)), Garbage(PooledConvolution.MomentWorkSize(g)), gram, sums);
            Assert.Equal(expectedGram, gram);
            Assert.Equal(expectedSums, sums);
            Assert.Contains(gram, value => value != 0.5);
        }
    }

    /// <summary>
    /// The training plan runs a bias-free first Conv2D + BatchNorm2D (+ ReLU) + MaxPool2D(2, 2) as one folded step: outputs, running statistics,
    /// parameter gradients (training pass) and δinput (full pass) match the layers run one by one, at 1 and 2 threads.
    /// </summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(2, false)]
    public void FoldedBatchNormStepMatchesTheLayers(int threads, bool relu)
    {
        int saved = Threads.Count;
        Threads.Count = threads;
        try
        {
            Sequential Build() => new Sequential(new Layer[] { new Conv2D(2, 6, 3, 1, 1, false), new BatchNorm2D(6) }.Concat(relu ? [new ReLU()] : Array.Empty<Layer>())
                .Concat([new MaxPool2D(2, 2), new Conv2D(6, 4, 3, 1, 1), new ReLU(), new MaxPool2D(2, 2), new Flatten(), new Linear(5)])).Build([2, 21, 18], new Rng(41));
            var model = Build();
            var step = Assert.IsType<ConvolutionBatchNormStep>(model.TrainingPlan.Steps[0]);
            Assert.Equal((0, relu ? 4 : 3), (step.FirstLayer, step.LayerCount));
            var reference = Build();
            foreach (var m in new[] { model, reference })   // γ and β away from 1 and 0, one γ negative (the pooling then takes a minimum of y)
            {
                var bn = (BatchNorm2D)m.Layers[1];
                new float[] { 1.5f, -0.7f, 0.3f, 2f, 1f, 0.8f }.CopyTo(bn.Weight.Value.Span);
                new float[] { 0.1f, 0.2f, -0.3f, 0f, 0.5f, -0.1f }.CopyTo(bn.Bias.Value.Span);
            }
            var rng = new Rng(42);
            var x = TestData.RandomTensor(rng, 5, 2, 21, 18);
            foreach (ref float value in x.Span) value += 0.7f;   // a mean well away from 0
            var δ = TestData.RandomTensor(rng, 5, 5);
            AssertPlanMatchesTheLayers(model, reference, x, δ, relative: 1e-4);
        }
        finally { Threads.Count = saved; }
    }

    /// <summary>Random floats: the sums differ from the twin's only by rounding; the backward pass adds to what the gradients hold.</summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void RandomInputsMatchTheTwinWithinRounding(GemmKernel kernel)
    {
        foreach (var shape in Shapes())
        {
            int channels = shape[0], outChannels = shape[1], count = 6;
            var g = new ConvGeometry(channels, shape[2], shape[3], shape[4], 1, shape[5]);
            var rng = new Rng((ulong)(channels * 31 + outChannels * 7 + shape[2] * 3 + shape[3]));
            var x = TestData.Random(count * channels * g.InputPixels, rng);
            var weight = TestData.Random(outChannels * g.PatchSize, rng, 0.5f);
            var bias = TestData.Random(outChannels, rng, 0.2f);
            int pooledLength = count * outChannels * (g.OutputHeight / 2) * (g.OutputWidth / 2);
            var (expectedPooled, codes) = (new float[pooledLength], new byte[pooledLength]);
            PooledConvolution.ForwardNaive(x, weight, default, bias, count, outChannels, g, Activation.ReLU, expectedPooled, codes);
            var (pooled, fastCodes) = (Garbage(pooledLength), new byte[pooledLength]);
            PooledConvolution.Forward(kernel, x, weight, default, bias, count, outChannels, g, Activation.ReLU, new float[PooledConvolution.PaddedImageSize(g)], pooled, fastCodes);
            TestData.AssertClose(expectedPooled, pooled, 1e-5, 1e-5, $"{kernel} {string.Join("x", shape)} pooled");

            var δpooled = TestData.Random(pooledLength, rng);
            var (expectedδWeight, expectedδBias) = (Enumerable.Repeat(1.0, outChannels * g.PatchSize).ToArray(), Enumerable.Repeat(-1.0, outChannels).ToArray());
            var (δweight, δbias) = ((double[])expectedδWeight.Clone(), (double[])expectedδBias.Clone());
            PooledConvolution.BackwardNaive(δpooled, codes, x, count, outChannels, g, expectedδWeight, expectedδBias);
            PooledConvolution.Backward(kernel, δpooled, codes, x, count, outChannels, g, new float[PooledConvolution.PaddedImageSize(g)],
                                       new float[PooledConvolution.BandSize(g, outChannels)], new float[PooledConvolution.AccumulatorSize(g, outChannels)], δweight, δbias);
            TestData.AssertClose(expectedδWeight.Select(v => (float)v).ToArray(), δweight.Select(v => (float)v).ToArray(), 1e-4, 1e-5, $"{kernel} {string.Join("x", shape)} δW");
            TestData.AssertClose(expectedδBias.Select(v => (float)v).ToArray(), δbias.Select(v => (float)v).ToArray(), 1e-4, 1e-5, $"{kernel} {string.Join("x", shape)} δb");
        }
    }

    /// <summary>A NaN input: the windows it reaches pool to NaN, with the twin's winner (the last NaN) and no gradient under ReLU.</summary>
    [Theory]
    [MemberData(nameof(Kernels))]
    public void NaNWinsAsInMaxPool2D(GemmKernel kernel)
    {
        var g = new ConvGeometry(2, 20, 36, 3, 1, 1);
        var rng = new Rng(4);
        var x = Exact(2 * g.InputPixels, rng, 0.25f);
        x[g.InputPixels + 5 * 36 + 17] = float.NaN;
        var weight = Exact(6 * g.PatchSize, rng, 0.125f);
        int pooledLength = 6 * 10 * 18;
        foreach (var activation in new[] { Activation.ReLU, Activation.None })
        {
            var (expectedPooled, expectedCodes, pooled, codes) = (new float[pooledLength], new byte[pooledLength], new float[pooledLength], new byte[pooledLength]);
            PooledConvolution.ForwardNaive(x, weight, default, default, 1, 6, g, activation, expectedPooled, expectedCodes);
            PooledConvolution.Forward(kernel, x, weight, default, default, 1, 6, g, activation, new float[PooledConvolution.PaddedImageSize(g)], pooled, codes);
            Assert.Contains(pooled, float.IsNaN);
            Assert.Equal(expectedPooled, pooled);   // NaN equals NaN here
            Assert.Equal(expectedCodes, codes);
        }
    }

    /// <summary>
    /// The training plan runs Conv2D (+ ReLU) + MaxPool2D(2, 2) of a first layer with few channels as one step; outputs, parameter gradients
    /// (the training backward pass) and δinput (the full backward pass, through the im2col fallback) match the layers run one by one.
    /// </summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(2, false)]
    public void TrainingPlanFusesAndMatchesTheLayers(int threads, bool relu)
    {
        int saved = Threads.Count;
        Threads.Count = threads;
        try
        {
            Sequential Build() => new Sequential(new Layer[] { new Conv2D(3, 6, 3, 1, 1) }.Concat(relu ? [new ReLU()] : Array.Empty<Layer>())
                .Concat([new MaxPool2D(2, 2), new Conv2D(6, 4, 3, 1, 1), new ReLU(), new MaxPool2D(2, 2), new Flatten(), new Linear(5)])).Build([3, 21, 19], new Rng(31));
            var model = Build();
            var step = Assert.IsType<PooledConvolutionStep>(model.TrainingPlan.Steps[0]);
            Assert.Equal((0, relu ? 3 : 2), (step.FirstLayer, step.LayerCount));
            Assert.IsNotType<PooledConvolutionStep>(model.TrainingPlan.Steps[1]);   // 6 input channels: the usual step
            Assert.DoesNotContain(model.EvaluationPlan.Steps, s => s is PooledConvolutionStep);

            var reference = Build();
            var rng = new Rng(32);
            var x = TestData.RandomTensor(rng, 5, 3, 21, 19);
            var δ = TestData.RandomTensor(rng, 5, 5);
            AssertPlanMatchesTheLayers(model, reference, x, δ, relative: 1e-5);
            Assert.Throws<InvalidOperationException>(() => step.Conv.Backward(new Tensor(5, 6, 21, 19)));   // the unpooled pass after a pooled forward
        }
        finally { Threads.Count = saved; }
    }

    /// <summary>
    /// Two rounds (the second reuses every buffer) of the training plan against the reference model's layers run one by one: outputs, buffers
    /// (running statistics), parameter gradients of the training pass and of the full pass, and δinput of the full pass.
    /// </summary>
    static void AssertPlanMatchesTheLayers(Sequential model, Sequential reference, Tensor x, Tensor δ, double relative)
    {
        for (int round = 0; round < 2; round++)
        {
            var y = x;
            foreach (var layer in reference.Layers) y = layer.Forward(y, training: true);
            var g = δ;
            for (int i = reference.Layers.Count - 1; i >= 0; i--) g = reference.Layers[i].Backward(g);
            var expectedδx = g.Span.ToArray();
            var expectedGradients = reference.NamedParameters.Select(p => p.Parameter.Gradient.Span.ToArray()).ToList();

            var planned = model.ForwardLogits(x, training: true).Span.ToArray();
            TestData.AssertClose(y.Span.ToArray(), planned, 1e-5, relative, $"output, round {round}");
            foreach (var ((name, buffer), (_, expected)) in model.NamedBuffers.Zip(reference.NamedBuffers))
                TestData.AssertClose(expected.Span.ToArray(), buffer.Span, 1e-6, 1e-5, $"{name}, round {round}");
            model.BackwardParametersFromLogits(δ);   // the training pass: parameter gradients only
            foreach (var ((name, parameter), expected) in model.NamedParameters.Zip(expectedGradients))
                TestData.AssertClose(expected, parameter.Gradient.Span, 1e-5, relative, $"{name} gradient, round {round}");
            var δx = model.Backward(δ);              // the full pass: δinput too
            TestData.AssertClose(expectedδx, δx.Span, 1e-5, relative, $"δinput, round {round}");
            foreach (var ((name, parameter), expected) in model.NamedParameters.Zip(expectedGradients))
                TestData.AssertClose(expected, parameter.Gradient.Span, 1e-5, relative, $"{name} gradient (full pass), round {round}");
        }
    }
}
