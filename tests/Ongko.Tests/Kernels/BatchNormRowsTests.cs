using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// BatchNorm1D's row-wise vector path ([N, F], statistics per feature) and BatchNorm2D's per-plane path
/// against a direct double-precision twin of PyTorch's formulas, in training and in evaluation.
/// </summary>
public class BatchNormRowsTests
{
    static (double[] Y, double[] δX, double[] δγ, double[] δβ, double[] Mean, double[] Var) Naive(
        float[] x, float[] δy, float[] γ, float[] β, float[] runMean, float[] runVar, int n, int c, int s, bool training)
    {
        int m = n * s;
        var μ = new double[c]; var σ2 = new double[c];
        var mean = runMean.Select(v => (double)v).ToArray(); var variance = runVar.Select(v => (double)v).ToArray();
        int At(int i, int ch, int p) => (i * c + ch) * s + p;
        for (int ch = 0; ch < c; ch++)
        {
            if (training)
            {
                double sum = 0; for (int i = 0; i < n; i++) for (int p = 0; p < s; p++) sum += x[At(i, ch, p)];
                μ[ch] = sum / m;
                double sq = 0; for (int i = 0; i < n; i++) for (int p = 0; p < s; p++) sq += Math.Pow(x[At(i, ch, p)] - μ[ch], 2);
                σ2[ch] = sq / m;
                mean[ch] = 0.9 * mean[ch] + 0.1 * μ[ch];
                variance[ch] = 0.9 * variance[ch] + 0.1 * σ2[ch] * m / (m - 1);
            }
            else (μ[ch], σ2[ch]) = (runMean[ch], runVar[ch]);
        }
        var y = new double[x.Length]; var xHat = new double[x.Length]; var δx = new double[x.Length];
        var δγ = new double[c]; var δβ = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double inv = 1 / Math.Sqrt(σ2[ch] + 1e-5);
            for (int i = 0; i < n; i++) for (int p = 0; p < s; p++)
            {
                int at = At(i, ch, p);
                xHat[at] = (x[at] - μ[ch]) * inv;
                y[at] = γ[ch] * xHat[at] + β[ch];
                δβ[ch] += δy[at];
                δγ[ch] += δy[at] * xHat[at];
            }
            for (int i = 0; i < n; i++) for (int p = 0; p < s; p++)
            {
                int at = At(i, ch, p);
                δx[at] = training ? γ[ch] * inv / m * (m * δy[at] - δβ[ch] - xHat[at] * δγ[ch]) : γ[ch] * inv * δy[at];
            }
        }
        return (y, δx, δγ, δβ, mean, variance);
    }

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
            var expected = Naive(x.Data, δy.Data, γ, β, runMean, runVar, n, c, s, training);
            for (int repeat = 0; repeat < 2; repeat++)   // buffers reused on the second call
            {
                if (repeat == 1) { runMean.CopyTo(layer.RunningMean.Data, 0); runVar.CopyTo(layer.RunningVariance.Data, 0); }
                var y = layer.Forward(x, training);
                var δx = layer.Backward(δy);
                string what = $"n={n} c={c} side={side} training={training}";
                TestData.AssertClose(expected.Y.Select(v => (float)v).ToArray(), y.Data, 1e-4, 1e-4, "y " + what);
                TestData.AssertClose(expected.δX.Select(v => (float)v).ToArray(), δx.Data, 1e-4, 1e-4, "δx " + what);
                TestData.AssertClose(expected.δγ.Select(v => (float)v).ToArray(), layer.Weight.Gradient.Data, 1e-4, 1e-4, "δγ " + what);
                TestData.AssertClose(expected.δβ.Select(v => (float)v).ToArray(), layer.Bias.Gradient.Data, 1e-4, 1e-4, "δβ " + what);
                TestData.AssertClose(expected.Mean.Select(v => (float)v).ToArray(), layer.RunningMean.Data, 1e-5, 1e-5, "running mean " + what);
                TestData.AssertClose(expected.Var.Select(v => (float)v).ToArray(), layer.RunningVariance.Data, 1e-5, 1e-5, "running var " + what);
            }
        }
    }
}
