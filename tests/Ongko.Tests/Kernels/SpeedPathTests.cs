using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// The fast paths added for speed against their plain twins: the vector 2x2 pooling, the per-image
/// parallel convolution used when the batch is smaller than the core count, and the worker pool itself.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public class SpeedPathTests
{
    [Theory]
    [InlineData(3, 2, 48, 48, 2, 2)]
    [InlineData(2, 3, 24, 24, 2, 2)]
    [InlineData(1, 4, 12, 12, 2, 2)]
    [InlineData(3, 5, 14, 14, 2, 2)]    // rows of 7 outputs: 8-lane tails spilling into the next row
    [InlineData(2, 3, 28, 28, 2, 2)]
    [InlineData(2, 3, 15, 17, 2, 2)]
    [InlineData(3, 7, 7, 7, 2, 2)]      // rows of 3 outputs: the 4-lane path
    [InlineData(2, 5, 22, 22, 2, 2)]    // 11 outputs: 8 lanes, then 4 lanes spilling
    [InlineData(2, 2, 35, 37, 2, 2)]    // odd sizes: the dropped last row and column, a scalar tail
    [InlineData(2, 2, 40, 34, 3, 2)]    // overlapping windows take the plain loop
    public void PoolingMatchesDirectLoopsWithTiesAndNaN(int batch, int channels, int height, int width, int k, int s)
    {
        var rng = new Rng((ulong)(height * 31 + width + k));
        var x = new float[batch * channels * height * width];
        // Few distinct values: many ties. A few NaNs: the vector path must hand those chunks to the scalar loop.
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextInt(5) - 2;
        for (int i = 0; i < 7; i++) x[rng.NextInt(x.Length)] = float.NaN;
        var pool = new MaxPool2D(k, s);
        var outShape = pool.Build([channels, height, width], rng);
        var y = pool.Forward(new Tensor(x, batch, channels, height, width), training: true);
        var δy = TestData.Random(y.Length, rng);
        var g = new ConvGeometry(channels, height, width, k, s, 0);
        var expected = new float[y.Length];
        MaxPool.ForwardNaive(x, batch * channels, g, expected, new int[y.Length]);
        var δxExpected = new float[x.Length];
        MaxPool.BackwardNaive(x, δy, batch * channels, g, δxExpected);
        Assert.Equal([batch, .. outShape], y.ShapeArray);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].Equals(y.Span[i]), $"output {i}: {y.Span[i]}, expected {expected[i]}");
        var δx = pool.Backward(new Tensor(δy, y.ShapeArray));
        Assert.Equal(δxExpected, δx.Span.ToArray());
    }

    [Theory]
    [InlineData(1, 3, 16, 48, 48)]
    [InlineData(1, 16, 32, 24, 24)]
    [InlineData(3, 5, 7, 9, 11)]
    public void ConvolutionWithFewerImagesThanCoresMatchesDirectLoops(int batch, int channels, int outChannels, int height, int width)
    {
        int saved = Threads.Count;
        Threads.Count = batch + 1;   // forces the split-inside-the-image path
        try
        {
            var rng = new Rng(99);
            var conv = new Conv2D(channels, outChannels, 3, 1, 1);
            conv.Build([channels, height, width], rng);
            TestData.Random(outChannels, rng).CopyTo(conv.Bias!.Value.Span);
            ConvolutionKernelTests.AssertMatchesDirectLoops(conv, new ConvGeometry(channels, height, width, 3, 1, 1), batch, outChannels, rng);
        }
        finally { Threads.Count = saved; }
    }

    [Fact]
    public void PoolRunsEveryRangeOnceNestedAndRethrows()
    {
        int saved = Threads.Count;
        Threads.Count = 3;
        try
        {
            for (int round = 0; round < 200; round++)
            {
                var hits = new int[1000];
                Threads.ForRanges(hits.Length, (worker, start, end) =>
                {
                    // A nested call runs its ranges inline on this thread.
                    Threads.ForRanges(end - start, (_, s, e) => { for (int i = start + s; i < start + e; i++) Interlocked.Increment(ref hits[i]); });
                });
                Assert.All(hits, h => Assert.Equal(1, h));
            }
            var error = Assert.ThrowsAny<Exception>(() => Threads.ForRanges(10, (worker, _, _) =>
            {
                if (worker == 2) throw new InvalidOperationException("from worker 2");
            }));
            Assert.Contains("from worker 2", error.ToString());
            // The pool still works after a failure.
            int sum = 0;
            Threads.ForRanges(10, (_, s, e) => Interlocked.Add(ref sum, e - s));
            Assert.Equal(10, sum);
        }
        finally { Threads.Count = saved; }
    }

    /// <summary>
    /// Images unrolled side by side (groups of G, a ragged last group per worker) against the direct loops,
    /// and against one image per GEMM: forward and δinput bitwise equal, parameter gradients close
    /// (they are summed in another order).
    /// </summary>
    [Theory]
    [InlineData(37, 16, 24, 14, 14, 1, 1)]
    [InlineData(29, 8, 20, 7, 7, 1, 1)]
    [InlineData(21, 5, 6, 9, 5, 2, 0)]
    [InlineData(3, 4, 7, 7, 7, 1, 1)]
    public void GroupedImagesMatchDirectLoopsAndSingleImages(int batch, int channels, int outChannels, int height, int width, int stride, int padding)
    {
        var rng = new Rng((ulong)(batch * 31 + channels));
        var x = TestData.RandomTensor(rng, batch, channels, height, width);
        var grouped = new Conv2D(channels, outChannels, 3, stride, padding);
        var single = new Conv2D(channels, outChannels, 3, stride, padding);
        var shape = grouped.Build([channels, height, width], new Rng(5));
        int saved = Conv2D.GroupColumns;
        Conv2D.GroupColumns = 1;
        try { single.Build([channels, height, width], new Rng(5)); }
        finally { Conv2D.GroupColumns = saved; }
        TestData.Random(outChannels, rng).CopyTo(grouped.Bias!.Value.Span);
        grouped.Bias.Value.Span.CopyTo(single.Bias!.Value.Span);
        var g = new ConvGeometry(channels, height, width, 3, stride, padding);
        var y = grouped.Forward(x, training: true).Span.ToArray();
        var expected = new float[batch * outChannels * g.OutputPixels];
        ConvolutionNaive.Forward(x.Span, grouped.Weight.Value.Span, grouped.Bias.Value.Span, expected, batch, outChannels, g);
        TestData.AssertClose(expected, y, 1e-5 * g.PatchSize, 1e-5, "forward");
        Assert.Equal(single.Forward(x, training: true).Span.ToArray(), y);

        var δy = TestData.RandomTensor(rng, [batch, .. shape]);
        var δx = grouped.Backward(δy).Span.ToArray();
        var δxExpected = new float[x.Length];
        var δwExpected = new float[grouped.Weight.Value.Length];
        var δbExpected = new float[outChannels];
        ConvolutionNaive.Backward(x.Span, grouped.Weight.Value.Span, δy.Span, δxExpected, δwExpected, δbExpected, batch, outChannels, g);
        TestData.AssertClose(δxExpected, δx, 1e-5 * outChannels * 9, 1e-5, "δinput");
        TestData.AssertClose(δwExpected, grouped.Weight.Gradient.Span, 1e-5 * batch * g.OutputPixels, 1e-5, "δweight");
        TestData.AssertClose(δbExpected, grouped.Bias.Gradient.Span, 1e-5 * batch * g.OutputPixels, 1e-5, "δbias");
        Assert.Equal(single.Backward(δy).Span.ToArray(), δx);
        TestData.AssertClose(single.Weight.Gradient.Span.ToArray(), grouped.Weight.Gradient.Span, 1e-5 * batch * g.OutputPixels, 1e-5, "δweight grouped vs single");
    }

    /// <summary>
    /// After warm-up a training step allocates nothing on the calling thread (which also runs the first range of
    /// every parallel loop): grouped convolutions, 8-row GEMM tiles, fused BatchNorm-ReLU, pooling, SGD.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]   // model3's first block: one pooled pass (PooledConvolutionStep); Dropout
    [InlineData(2)]   // numta28-best's: the BatchNorm folded into it (ConvolutionBatchNormStep)
    public void TrainingStepAllocatesNothingAfterWarmUp(int network)
    {
        Layer[] first = network switch
        {
            0 => [new Conv2D(3, 16, 3, 1, 1), new BatchNorm2D(16), new ReLU(), new MaxPool2D(2, 2)],
            1 => [new Conv2D(3, 16, 3, 1, 1), new ReLU(), new MaxPool2D(2, 2)],
            _ => [new Conv2D(3, 16, 3, 1, 1, bias: false), new BatchNorm2D(16), new ReLU(), new MaxPool2D(2, 2)],
        };
        var model = new Sequential([.. first,
                                    new Conv2D(16, 32, 3, 1, 1, bias: false), new BatchNorm2D(32), new ReLU(), new MaxPool2D(2, 2),
                                    new Flatten(), new Dropout(0.2f), new Linear(10), new Softmax()]).Build([3, 14, 14], new Rng(3));
        Assert.Equal(network switch { 1 => typeof(PooledConvolutionStep), 2 => typeof(ConvolutionBatchNormStep), _ => typeof(LayerStep) },
                     model.TrainingPlan.Steps[0].GetType());
        var loss = new Ongko.Training.CrossEntropyLoss();
        var optimizer = new Ongko.Training.Sgd(model.Parameters, 0.01f, momentum: 0.9f);
        var rng = new Rng(4);
        var images = TestData.RandomTensor(rng, 9, 3, 14, 14);
        int[] labels = [0, 1, 2, 3, 4, 5, 6, 7, 8];
        for (int i = 0; i < 3; i++) Ongko.Training.TrainingStep.Run(model, loss, optimizer, images, labels);
        // A per-step allocation shows in every window; a one-time runtime allocation (a lock's first contention with
        // a busy worker on a loaded machine) shows in one window at most, so the quietest of three windows must be 0.
        long fewest = long.MaxValue;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 3; i++) Ongko.Training.TrainingStep.Run(model, loss, optimizer, images, labels);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, fewest);
    }

    /// <summary>Conv2D followed by ReLU, fused by Sequential, against the two layers one after the other (the convolution by the same algorithm): bitwise equal.</summary>
    [Theory]
    [InlineData(5, 3, 8, 14, 14, true)]    // grouped images
    [InlineData(3, 4, 16, 30, 30, false)]  // one image per GEMM
    [InlineData(1, 2, 5, 9, 9, true)]      // fewer images than cores
    public void FusedConvolutionAndReLUMatchTheLayersOneAfterTheOther(int batch, int channels, int outChannels, int height, int width, bool hasBias)
    {
        var fusedConv = new Conv2D(channels, outChannels, 3, 1, 1, hasBias);
        var fusedReLU = new ReLU();
        var model = new Sequential([fusedConv, fusedReLU]).Build([channels, height, width], new Rng(2));
        var conv = new Conv2D(channels, outChannels, 3, 1, 1, hasBias);
        var relu = new ReLU();
        conv.Build([channels, height, width], new Rng(2));
        var rng = new Rng(8);
        if (hasBias)
        {
            TestData.Random(outChannels, rng).CopyTo(conv.Bias!.Value.Span);
            conv.Bias.Value.Span.CopyTo(fusedConv.Bias!.Value.Span);
        }
        for (int step = 0; step < 2; step++)
        {
            var x = TestData.RandomTensor(rng, batch, channels, height, width);
            var yFused = model.Forward(x, training: true).Span.ToArray();
            // The separate convolution by the algorithm the plan chose for this batch (direct loops for these few channels).
            var algorithm = model.TrainingPlan.Steps[0] is ConvolutionStep convolution ? convolution.Algorithm(batch) : ConvolutionAlgorithm.Im2ColGemm;
            var y = relu.Forward(conv.Forward(x, training: true, Activation.None, algorithm), training: true).Span.ToArray();
            Assert.Equal(y, yFused);
            Assert.Contains(yFused, v => v == 0);
            var δy = TestData.RandomTensor(rng, batch, outChannels, height, width);
            Assert.Equal(conv.Backward(relu.Backward(δy)).Span.ToArray(), model.Backward(δy).Span.ToArray());
            Assert.Equal(conv.Weight.Gradient.Span.ToArray(), fusedConv.Weight.Gradient.Span.ToArray());
            if (hasBias) Assert.Equal(conv.Bias!.Gradient.Span.ToArray(), fusedConv.Bias!.Gradient.Span.ToArray());
        }
    }
}
