using Ongko.Data;
using Ongko.Tensors;
using Ongko.Tests.Export;
using Ongko.Training;

namespace Ongko.Tests.Training;

/// <summary>Evaluation forwards a big batch in slices, so the layers' buffers stay at the slice size.</summary>
[Collection(ThreadCountCollection.Name)]
public class EvaluationSliceTests
{
    public static TheoryData<string> ShippedConfigs() => ExportModels.ShippedConfigs();

    /// <summary>
    /// Slices give the whole batch's logits up to rounding: each image's logits do not depend on the others, but the
    /// GEMM may pick another path or tile for another row count, which changes the order of the sums.
    /// </summary>
    [Theory]
    [MemberData(nameof(ShippedConfigs))]
    public void SlicedLogitsEqualTheWholeBatch(string config)
    {
        var (model, _) = ExportModels.FromConfig(config);
        var images = TestData.RandomTensor(new Rng(3), [300, .. model.InputShape]);
        var whole = model.ForwardLogits(images, training: false).Span.ToArray();
        var sliced = new SlicedForward(model, 128).ForwardLogits(images);
        Assert.Equal([300, whole.Length / 300], sliced.ShapeArray);
        var slicedValues = sliced.Span.ToArray();
        for (int i = 0; i < whole.Length; i++)
            Assert.True(Math.Abs(whole[i] - slicedValues[i]) <= 1e-5f * (1 + Math.Abs(whole[i])), $"logit {i}: {slicedValues[i]} vs {whole[i]}");
        Assert.Contains(whole, v => Math.Abs(v) > 1);  // not all zero or saturated away
    }

    /// <summary>After a 128-image forward, a 512-image batch in slices of 128 allocates only its gathered logits and one slice,
    /// not the four-times-larger activations; a second one allocates nothing.</summary>
    [Fact]
    public void SlicesDoNotGrowTheLayerBuffers()
    {
        var (model, _) = ExportModels.FromConfig("numta28-best");
        var rng = new Rng(4);
        model.ForwardLogits(TestData.RandomTensor(rng, [128, .. model.InputShape]), training: false);
        var images = TestData.RandomTensor(rng, [512, .. model.InputShape]);
        var slices = new SlicedForward(model, 128);
        long before = GC.GetAllocatedBytesForCurrentThread();
        slices.ForwardLogits(images);
        long first = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        slices.ForwardLogits(images);
        long second = GC.GetAllocatedBytesForCurrentThread() - before;
        long oneSlice = 128 * 28 * 28 * sizeof(float), gathered = 512 * 10 * sizeof(float);
        // The slack covers one-time per-thread kernel buffers first used on this test thread (which depends on the tests
        // that ran on it before: a fresh-clone run once saw 5.5 KB); the activations this guards against are ~38 MB.
        Assert.InRange(first, gathered, oneSlice + gathered + 16384);
        Assert.Equal(0, second);
        // Unsliced, the same batch grows the first convolution's output alone by 384 images x 32 x 28 x 28 floats.
        before = GC.GetAllocatedBytesForCurrentThread();
        model.ForwardLogits(images, training: false);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before > 384L * 32 * 28 * 28 * sizeof(float));
    }

    /// <summary>Evaluation.Run gives the same loss (up to rounding) and confusion matrix for any slice size (the loader batch is 200).</summary>
    [Fact]
    public void RunGivesTheSameResultForAnySliceSize()
    {
        var (model, _) = ExportModels.FromConfig("numta28-best");
        var rng = new Rng(5);
        int count = 450;
        var images = TestData.Random(count * 28 * 28, rng);
        var labels = Enumerable.Range(0, count).Select(i => i % 10).ToArray();
        var source = new ArrayBatchSource(images, labels, [1, 28, 28], 200);
        var (wholeLoss, wholeMatrix) = Evaluation.Run(model, source, 10, forwardBatch: 1000);
        var (slicedLoss, slicedMatrix) = Evaluation.Run(model, source, 10, forwardBatch: 64);
        Assert.Equal(wholeLoss, slicedLoss, 1e-6);
        Assert.Equal(wholeMatrix.ToFlatArray(), slicedMatrix.ToFlatArray());
        Assert.True(double.IsFinite(wholeLoss));
    }
}
