using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>The comparison helper itself: it must reject small but real differences and say where they are.</summary>
public class TensorAssertTests
{
    [Fact]
    public void AcceptsFloat32RoundingAndRejectsOneMissingTerm()
    {
        // A K-term dot product, done in float64 (the truth) and in float32 (what the engine does).
        const int K = 4608;
        var rng = new Rng(7);
        var x = new double[K];
        var y = new double[K];
        for (int i = 0; i < K; i++) { x[i] = (float)rng.NextGaussian(); y[i] = (float)rng.NextGaussian(); }
        double truth = 0;
        float single = 0;
        for (int i = 0; i < K; i++) { truth += x[i] * y[i]; single += (float)x[i] * (float)y[i]; }
        var expected = new Tensor([(float)truth], 1);
        Assert.Null(TensorAssert.Compare("dot", expected, new Tensor([single], 1), K));

        // Dropping one typical term (|x*y| between 0.5 and 1) is the smallest bug a kernel can have.
        int dropped = Enumerable.Range(0, K).First(i => Math.Abs(x[i] * y[i]) is > 0.5 and < 1);
        float missing = single - (float)(x[dropped] * y[dropped]);
        Assert.NotNull(TensorAssert.Compare("dot", expected, new Tensor([missing], 1), K));
    }

    [Fact]
    public void FailureNamesTensorIndexAndValues()
    {
        var expected = new Tensor(2, 3, 4);
        for (int i = 0; i < expected.Length; i++) expected.Span[i] = i;
        var actual = expected.Clone();
        actual.Span[1 * 12 + 2 * 4 + 3] += 0.01f; // element [1, 2, 3]
        string? message = TensorAssert.Compare("grad_weight", expected, actual, 1);
        Assert.NotNull(message);
        Assert.Contains("grad_weight", message);
        Assert.Contains("[1, 2, 3]", message);
        Assert.Contains("23.01", message);
        Assert.Contains("expected 23", message);
    }

    [Fact]
    public void ExactRejectsOneUlp()
    {
        var expected = new Tensor([1f, 2f, 3f], 3);
        var actual = new Tensor([1f, MathF.BitIncrement(2f), 3f], 3);
        var failure = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => TensorAssert.Exact("pool output", expected, actual));
        Assert.Contains("[1]", failure.Message);
        TensorAssert.Exact("pool output", expected, expected.Clone());
    }

    [Fact]
    public void RejectsShapeMismatchAndNaN()
    {
        Assert.NotNull(TensorAssert.Compare("t", new Tensor(2, 3), new Tensor(3, 2), 1));
        Assert.NotNull(TensorAssert.Compare("t", new Tensor(2), new Tensor([0f, float.NaN], 2), 1));
    }
}
