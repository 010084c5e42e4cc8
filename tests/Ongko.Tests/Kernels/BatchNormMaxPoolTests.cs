using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>BatchNorm2D + ReLU + MaxPool2D in one pass per plane: bit for bit the separate kernels, and the training plan's use of it.</summary>
[Collection(ThreadCountCollection.Name)]
public class BatchNormMaxPoolTests
{
    /// <summary>The fused kernels against the batch norm's and the pooling's own kernels run one after the other, in two channel ranges.</summary>
    [Theory]
    [InlineData(3, 4, 28, 28, 2, 2, true, true)]
    [InlineData(2, 3, 7, 7, 2, 2, true, true)]      // odd: the last row and column belong to no window
    [InlineData(4, 2, 14, 14, 2, 2, false, true)]
    [InlineData(2, 5, 9, 8, 3, 2, true, false)]     // overlapping windows: an input can win two
    [InlineData(1, 3, 6, 10, 2, 2, true, true)]
    [InlineData(3, 2, 6, 6, 2, 2, true, false)]     // evaluation: running statistics
    public void MatchesTheSeparateKernelsBitForBit(int batch, int channels, int height, int width, int kernel, int stride, bool relu, bool training)
    {
        var rng = new Rng((ulong)(batch * 1000 + channels * 100 + height * 10 + width + kernel));
        var pool = new ConvGeometry(channels, height, width, kernel, stride, 0);
        int spatial = height * width, planes = batch * channels, pooledLength = planes * pool.OutputPixels;
        var x = TestData.Random(planes * spatial, rng, 2f);
        var γ = TestData.Random(channels, rng);
        var β = TestData.Random(channels, rng, 0.5f);
        var δpooled = TestData.Random(pooledLength, rng);
        var activation = relu ? Activation.ReLU : Activation.None;
        float[] runningMean = TestData.Random(channels, rng, 0.3f), runningVariance = TestData.Random(channels, rng, 0.3f).Select(v => v + 1).ToArray();

        // The separate kernels: batch norm over planes, max pooling, then their backward passes.
        float[] mean1 = (float[])runningMean.Clone(), variance1 = (float[])runningVariance.Clone(), μ1 = new float[channels], inv1 = new float[channels];
        var y = new float[x.Length];
        var pooled1 = new float[pooledLength];
        var argmax1 = new int[pooledLength];
        var δy = new float[x.Length];
        var δx1 = new float[x.Length];
        float[] δγ1 = new float[channels], δβ1 = new float[channels];
        foreach (var (first, last) in Ranges(channels))
            BatchNormalization.ForwardPlanes(x, γ, β, batch, channels, spatial, first, last, training, 0.1f, 1e-5f, activation, mean1, variance1, μ1, inv1, y);
        MaxPool.Forward(y, planes, pool, pooled1, argmax1);
        MaxPool.Backward(δpooled, argmax1, planes, pool, δy);
        foreach (var (first, last) in Ranges(channels))
            BatchNormalization.BackwardPlanes(δy, x, γ, β, μ1, inv1, batch, channels, spatial, first, last, training, activation, δx1, δγ1, δβ1);

        // Fused, with scratch planes and outputs full of garbage first.
        float[] mean2 = (float[])runningMean.Clone(), variance2 = (float[])runningVariance.Clone(), μ2 = new float[channels], inv2 = new float[channels];
        var pooled2 = Filled(pooledLength);
        var argmax2 = Enumerable.Repeat(-1, pooledLength).ToArray();
        var scratch = Filled(batch * spatial + 3);   // backward: one channel's planes
        var δx2 = Filled(x.Length);
        float[] δγ2 = Filled(channels), δβ2 = Filled(channels);
        foreach (var (first, last) in Ranges(channels))
            BatchNormMaxPool.ForwardPlanes(x, γ, β, batch, channels, pool, first, last, training, 0.1f, 1e-5f, activation, mean2, variance2, μ2, inv2,
                                           scratch, pooled2, argmax2);
        scratch.AsSpan().Fill(float.NaN);
        foreach (var (first, last) in Ranges(channels))
            BatchNormMaxPool.BackwardPlanes(δpooled, argmax2, x, γ, β, μ2, inv2, batch, channels, pool, first, last, training, activation, scratch, δx2, δγ2, δβ2);

        Assert.Equal(argmax1, argmax2);
        Assert.Equal(pooled1, pooled2);
        Assert.Equal(mean1, mean2);
        Assert.Equal(variance1, variance2);
        Assert.Equal(μ1, μ2);
        Assert.Equal(inv1, inv2);
        Assert.Equal(δx1, δx2);
        Assert.Equal(δγ1, δγ2);
        Assert.Equal(δβ1, δβ2);
        Assert.Contains(δx2, value => value != 0);   // the check is not vacuous
    }

    static (int First, int Last)[] Ranges(int channels) => [(0, channels / 2), (channels / 2, channels)];

    static float[] Filled(int length)
    {
        var values = new float[length];
        values.AsSpan().Fill(float.NaN);
        return values;
    }

    /// <summary>
    /// The training plan runs BatchNorm2D (+ ReLU) + MaxPool2D as one step; forward and backward through the plan give the layers'
    /// own results run one by one (outputs, parameter gradients, running statistics), at 1 and 2 threads.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TrainingPlanFusesAndMatchesTheLayers(int threads)
    {
        int saved = Threads.Count;
        Threads.Count = threads;
        try
        {
            // (The first convolution has a bias: without one the plan folds the BatchNorm into it, ConvolutionBatchNormStep.)
            Sequential Build() => new Sequential([new Conv2D(1, 4, 3, 1, 1), new BatchNorm2D(4), new ReLU(), new MaxPool2D(2, 2),
                                                  new Conv2D(4, 6, 3, 1, 1, false), new BatchNorm2D(6), new MaxPool2D(3, 2),
                                                  new Conv2D(6, 2, 3, 1, 1, false), new BatchNorm2D(2), new ReLU(), new MaxPool2D(2, 2),
                                                  new Flatten(), new Linear(5)]).Build([1, 34, 34], new Rng(21));
            var model = Build();
            var steps = model.TrainingPlan.Steps;
            var first = Assert.IsType<BatchNormMaxPoolStep>(steps[1]);
            Assert.Equal((1, 3, Activation.ReLU), (first.FirstLayer, first.LayerCount, first.Activation));
            var second = Assert.IsType<BatchNormMaxPoolStep>(steps[3]);   // 17x17 planes
            Assert.Equal((5, 2, Activation.None), (second.FirstLayer, second.LayerCount, second.Activation));
            Assert.IsType<ActivatedStep>(steps[5]);   // 8x8 planes: below ExecutionPlan.FusedPoolingMinPixels, the layers apart
            Assert.DoesNotContain(model.EvaluationPlan.Steps, step => step is BatchNormMaxPoolStep);

            var reference = Build();   // the same weights, run layer by layer
            var rng = new Rng(22);
            var x = TestData.RandomTensor(rng, 5, 1, 34, 34);
            var δ = TestData.RandomTensor(rng, 5, 5);
            for (int round = 0; round < 2; round++)   // a second round reuses every buffer
            {
                var planned = model.Forward(x, training: true).Span.ToArray();
                model.Backward(δ);
                var y = x;
                foreach (var layer in reference.Layers) y = layer.Forward(y, training: true);
                var g = δ;
                for (int i = reference.Layers.Count - 1; i >= 0; i--) g = reference.Layers[i].Backward(g);
                TestData.AssertClose(y.Span.ToArray(), planned, 1e-5, 1e-5, $"output, round {round}");
                foreach (var ((name, parameter), (_, expected)) in model.NamedParameters.Zip(reference.NamedParameters))
                    TestData.AssertClose(expected.Gradient.Span.ToArray(), parameter.Gradient.Span, 1e-5, 1e-5, $"{name} gradient, round {round}");
                foreach (var ((name, buffer), (_, expected)) in model.NamedBuffers.Zip(reference.NamedBuffers))
                    TestData.AssertClose(expected.Span.ToArray(), buffer.Span, 0, 0, $"{name}, round {round}");
            }
            // The unpooled backward pass after a pooled forward is refused.
            Assert.Throws<InvalidOperationException>(() => first.BatchNorm.Backward(new Tensor(5, 4, 34, 34)));
        }
        finally { Threads.Count = saved; }
    }
}
