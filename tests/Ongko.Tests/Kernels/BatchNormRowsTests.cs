using Ongko.Kernels;
using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// The BatchNorm layers (BatchNorm1D's row-wise vector path, [N, F], and BatchNorm2D's per-plane path) against the
/// direct double-precision twin of PyTorch's formulas (<see cref="BatchNormalization.ForwardNaive"/>), in training
/// and in evaluation; and the kernels themselves with a ReLU applied, against the same twin.
/// </summary>
public class BatchNormRowsTests
{
    [Theory]
    [InlineData(37, 21, 0)]     // BatchNorm1D: row-wise path
    [InlineData(128, 256, 0)]
    [InlineData(2, 5, 0)]
    [InlineData(9, 6, 3)]       // BatchNorm2D with 3x3 planes: per-plane path
    [InlineData(5, 4, 1)]       // BatchNorm2D with 1x1 planes: row-wise path
    public void MatchesNaiveTwin(int n, int c, int side)
    {
        var rng = new Rng((ulong)(n * 1000 + c * 10 + side));
        foreach (bool training in new[] { true, false })
        {
            BatchNorm layer = side == 0 ? new BatchNorm1D(c) : new BatchNorm2D(c);
            int[] sample = side == 0 ? [c] : [c, side, side];
            int s = side == 0 ? 1 : side * side;
            layer.Build(sample, rng);
            var γ = TestData.Random(c, rng); var β = TestData.Random(c, rng);
            γ.CopyTo(layer.Weight.Value.Data, 0); β.CopyTo(layer.Bias.Value.Data, 0);
            for (int ch = 0; ch < c; ch++) { layer.RunningMean.Data[ch] = rng.NextFloat() - 0.5f; layer.RunningVariance.Data[ch] = 0.5f + rng.NextFloat(); }
            var runMean = (float[])layer.RunningMean.Data.Clone(); var runVar = (float[])layer.RunningVariance.Data.Clone();
            var x = new Tensor([n, .. sample]); var δy = new Tensor([n, .. sample]);
            for (int i = 0; i < x.Length; i++) { x.Data[i] = 3 + 2 * (rng.NextFloat() - 0.5f); δy.Data[i] = rng.NextFloat() - 0.5f; }
            var expected = Twin(x.Data, δy.Data, γ, β, runMean, runVar, n, c, s, training, Activation.None);
            for (int repeat = 0; repeat < 2; repeat++)   // buffers reused on the second call
            {
                if (repeat == 1) { runMean.CopyTo(layer.RunningMean.Data, 0); runVar.CopyTo(layer.RunningVariance.Data, 0); }
                var y = layer.Forward(x, training);
                var δx = layer.Backward(δy);
                string what = $"n={n} c={c} side={side} training={training}";
                TestData.AssertClose(expected.Y, y.Data, 1e-4, 1e-4, "y " + what);
                TestData.AssertClose(expected.δX, δx.Data, 1e-4, 1e-4, "δx " + what);
                TestData.AssertClose(expected.δγ, layer.Weight.Gradient.Data, 1e-4, 1e-4, "δγ " + what);
                TestData.AssertClose(expected.δβ, layer.Bias.Gradient.Data, 1e-4, 1e-4, "δβ " + what);
                TestData.AssertClose(expected.Mean, layer.RunningMean.Data, 1e-5, 1e-5, "running mean " + what);
                TestData.AssertClose(expected.Var, layer.RunningVariance.Data, 1e-5, 1e-5, "running var " + what);
            }
        }
    }

    /// <summary>The twin run on copies: output, gradients and the running statistics it leaves.</summary>
    static (float[] Y, float[] δX, float[] δγ, float[] δβ, float[] Mean, float[] Var) Twin(
        float[] x, float[] δy, float[] γ, float[] β, float[] runMean, float[] runVar, int n, int c, int s, bool training, Activation activation)
    {
        float[] mean = (float[])runMean.Clone(), variance = (float[])runVar.Clone();
        var y = new float[x.Length];
        var δx = new float[x.Length];
        float[] δγ = new float[c], δβ = new float[c];
        BatchNormalization.ForwardNaive(x, γ, β, n, c, s, training, 0.1f, 1e-5f, activation, mean, variance, y);
        BatchNormalization.BackwardNaive(δy, x, y, γ, mean, variance, n, c, s, training, 1e-5f, activation, δx, δγ, δβ);
        return (y, δx, δγ, δβ, mean, variance);
    }

    /// <summary>The plane and row kernels, called directly, with and without the ReLU argument, against the twin.</summary>
    [Theory]
    [InlineData(6, 5, 9, true)]
    [InlineData(3, 4, 49, false)]
    [InlineData(17, 33, 1, true)]    // rows
    [InlineData(4, 8, 1, false)]
    public void KernelsMatchTheTwinWithAndWithoutReLU(int n, int c, int s, bool training)
    {
        var rng = new Rng((ulong)(n * 100 + c * 10 + s));
        foreach (var activation in new[] { Activation.None, Activation.ReLU })
        {
            var x = TestData.Random(n * c * s, rng, 2);
            var δy = TestData.Random(x.Length, rng);
            var γ = TestData.Random(c, rng);
            var β = TestData.Random(c, rng);
            var runMean = TestData.Random(c, rng, 0.5f);
            var runVar = TestData.Random(c, rng, 0.4f).Select(v => v + 1).ToArray();
            var expected = Twin(x, δy, γ, β, runMean, runVar, n, c, s, training, activation);
            float[] mean = (float[])runMean.Clone(), variance = (float[])runVar.Clone(), μ = new float[c], invStd = new float[c];
            var y = new float[x.Length];
            var δx = new float[x.Length];
            float[] δγ = new float[c], δβ = new float[c];
            if (s > 1)
            {
                // In two channel ranges, as the layer's workers run them.
                foreach (var (first, last) in new[] { (0, c / 2), (c / 2, c) })
                    BatchNormalization.ForwardPlanes(x, γ, β, n, c, s, first, last, training, 0.1f, 1e-5f, activation, mean, variance, μ, invStd, y);
                foreach (var (first, last) in new[] { (0, c / 2), (c / 2, c) })
                    BatchNormalization.BackwardPlanes(δy, x, γ, β, μ, invStd, n, c, s, first, last, training, activation, δx, δγ, δβ);
            }
            else
            {
                var xHat = new float[x.Length];
                var work = new float[4 * c];
                BatchNormalization.ForwardRows(x, γ, β, n, c, training, 0.1f, 1e-5f, activation, mean, variance, work, invStd, xHat, y);
                BatchNormalization.BackwardRows(δy, xHat, y, γ, invStd, n, c, training, activation, work, δx, δγ, δβ);
            }
            string what = $"n={n} c={c} s={s} training={training} {activation}";
            if (activation == Activation.ReLU) Assert.Contains(y, v => v == 0);
            TestData.AssertClose(expected.Y, y, 1e-4, 1e-4, "y " + what);
            TestData.AssertClose(expected.δX, δx, 1e-4, 1e-4, "δx " + what);
            TestData.AssertClose(expected.δγ, δγ, 1e-4, 1e-4, "δγ " + what);
            TestData.AssertClose(expected.δβ, δβ, 1e-4, 1e-4, "δβ " + what);
            TestData.AssertClose(expected.Mean, mean, 1e-5, 1e-5, "running mean " + what);
            TestData.AssertClose(expected.Var, variance, 1e-5, 1e-5, "running var " + what);
        }
    }
}
