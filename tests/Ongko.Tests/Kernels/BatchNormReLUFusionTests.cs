using Ongko.Layers;
using Ongko.Models;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// BatchNorm followed by ReLU, fused by Sequential (one pass, the ReLU passes through), against the same two
/// layers run one after the other unfused: outputs, input gradients, parameter gradients and running
/// statistics bitwise equal, for BatchNorm2D planes and BatchNorm1D rows, in training and evaluation.
/// </summary>
public class BatchNormReLUFusionTests
{
    public static IEnumerable<object[]> Shapes()
    {
        var rng = new Rng(31);
        for (int i = 0; i < 8; i++)
            yield return [2 + rng.NextInt(6), 1 + rng.NextInt(9), 1 + rng.NextInt(13), 1 + rng.NextInt(11), i % 2 == 0];
        yield return [5, 7, 0, 0, true];    // BatchNorm1D rows
        yield return [4, 33, 0, 0, false];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FusedPairMatchesTheLayersOneAfterTheOther(int batch, int channels, int height, int width, bool training)
    {
        bool planes = height > 0;
        BatchNorm Make() => planes ? new BatchNorm2D(channels) : new BatchNorm1D(channels);
        int[] sample = planes ? [channels, height, width] : [channels];
        var fusedBn = Make();
        var fusedReLU = new ReLU();
        var model = new Sequential([fusedBn, fusedReLU]).Build(sample, new Rng(1));
        var bn = Make();
        var relu = new ReLU();
        bn.Build(sample, new Rng(1));
        relu.Build(sample, new Rng(1));
        var rng = new Rng((ulong)(batch * 100 + channels * 10 + height));
        foreach (var layer in new[] { fusedBn, bn })
        {
            var r = new Rng(9);
            TestData.Random(channels, r).CopyTo(layer.Weight.Value.Span);
            TestData.Random(channels, r).CopyTo(layer.Bias.Value.Span);
        }
        for (int step = 0; step < 2; step++)
        {
            var x = TestData.RandomTensor(rng, [batch, .. sample]);
            var δy = TestData.RandomTensor(rng, [batch, .. sample]);
            var yFused = model.Forward(x, training).Span.ToArray();
            var y = relu.Forward(bn.Forward(x, training), training).Span.ToArray();
            Assert.Equal(y, yFused);
            Assert.Contains(yFused, v => v == 0);
            Assert.Equal(bn.RunningMean.Span.ToArray(), fusedBn.RunningMean.Span.ToArray());
            Assert.Equal(bn.RunningVariance.Span.ToArray(), fusedBn.RunningVariance.Span.ToArray());
            var δxFused = model.Backward(δy).Span.ToArray();
            var δx = bn.Backward(relu.Backward(δy)).Span.ToArray();
            Assert.Equal(δx, δxFused);
            Assert.Equal(bn.Weight.Gradient.Span.ToArray(), fusedBn.Weight.Gradient.Span.ToArray());
            Assert.Equal(bn.Bias.Gradient.Span.ToArray(), fusedBn.Bias.Gradient.Span.ToArray());
        }
        // The fused ReLU on any other input still computes max(x, 0) and its mask.
        var other = TestData.RandomTensor(rng, [batch, .. sample]);
        var rectified = fusedReLU.Forward(other, training).Span.ToArray();
        Assert.Equal(other.Span.ToArray().Select(v => Math.Max(v, 0f)).ToArray(), rectified);
        var δ = TestData.RandomTensor(rng, [batch, .. sample]);
        Assert.Equal(Enumerable.Range(0, δ.Length).Select(i => rectified[i] > 0 ? δ.Span[i] : 0f).ToArray(), fusedReLU.Backward(δ).Span.ToArray());
    }
}
