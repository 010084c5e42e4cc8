using System.Globalization;
using System.Text;
using Ongko.Layers;
using Ongko.Tensors;
using Ongko.Training;

namespace Ongko.Tests;

/// <summary>
/// Finite-difference gradient checks: each layer's Backward against central differences of the scalar
/// L = Σ output ⊙ R for a fixed random R (so Backward(R) must equal ∂L/∂input and ∂L/∂parameters),
/// or of the loss itself for cross-entropy. L is accumulated in double; the perturbation divides by
/// the difference of the float32 values actually used, not by 2ε. A sample of coordinates of the input
/// and of every parameter is checked, which keeps the whole class well under a second.
/// </summary>
/// <remarks>
/// Choosing ε and the tolerance for a float32 engine (unit roundoff u ≈ 6e-8):
/// - Conv2D and Linear are linear in each single input or weight coordinate, so the central difference
///   is exact for any ε and only float32 rounding of the forward pass remains: about
///   u·sqrt(K)·|output|·|R| per affected output, divided by 2ε. A large ε = 0.25 (inputs ~ N(0,1)) keeps
///   that near 1e-6, and |analytic − numeric| ≤ 1e-4·(1 + |numeric|) leaves a margin of ~50x (measured:
///   the worst error is 2% of the bound), while an indexing, padding or stride bug is off by O(|R|) ≈ 1.
/// - MaxPool2D is piecewise linear: inputs are distinct multiples of 0.05 (a shuffled grid, so no ties and
///   no near-ties) and ε = 0.01 stays inside one linear piece, so the difference is exact and the only
///   error is the float32 sum of at most ceil(k/s)^2 values of R in Backward: tolerance 1e-5·(1 + |numeric|)
///   (measured worst: 1% of it).
/// - Softmax and cross-entropy are smooth but curved: the central difference has truncation error
///   ε²/6·|L'''| and rounding error ~u·|L|/ε. With logits ~ N(0, 2) ε = 1e-2 balances the two at ~1e-5 for
///   gradients of order 0.1, so the tolerance is 2e-4 + 2e-3·|numeric| (measured worst: 2% of it for
///   softmax, 5% for cross-entropy, whose float loss carries ~u·|loss| of rounding); a missing term
///   (e.g. the Σ δy·y of the softmax Jacobian or the 1/N of the batch mean) is off by ≥ 1e-2.
/// </remarks>
public class FiniteDifferenceTests
{
    const int SampledCoordinates = 24;

    // ------------------------------------------------------------------------------------------
    // Conv2D: several shapes, including strides that do not divide (H + 2p − k) evenly and padding
    // wider than the kernel's reach, so some output windows lie partly or wholly in the padding.
    // ------------------------------------------------------------------------------------------
    [Theory]
    //          N  C  H   W  out k  s  p  bias
    [InlineData(2, 3, 7,  7, 4,  3, 2, 1, true)]
    [InlineData(2, 2, 9,  6, 3,  3, 3, 2, true)]   // (9+4−3) % 3 = 1 and (6+4−3) % 3 = 1
    [InlineData(1, 4, 10, 10, 5, 5, 2, 0, true)]   // (10−5) % 2 = 1
    [InlineData(2, 3, 6,  6, 4,  4, 3, 3, true)]   // corner windows see padding only
    [InlineData(3, 5, 5,  4, 2,  1, 1, 0, true)]   // 1x1 kernel
    [InlineData(2, 3, 8,  8, 6,  3, 1, 1, false)]  // no bias, model-like
    public void Conv2DGradientsMatchFiniteDifferences(int n, int c, int h, int w, int outChannels, int kernel, int stride, int padding, bool bias)
    {
        var layer = new Conv2D(c, outChannels, kernel, stride, padding, bias);
        var check = new LayerCheck(layer, [c, h, w], n, seed: (ulong)(h * 100 + w * 10 + kernel), epsilon: 0.25f);
        check.Run(SampledCoordinates, absolute: 1e-4, relative: 1e-4);
    }

    [Theory]
    [InlineData(3, 11, 6)]
    [InlineData(1, 1, 1)]
    [InlineData(5, 64, 10)]
    public void LinearGradientsMatchFiniteDifferences(int n, int inFeatures, int outFeatures)
    {
        var check = new LayerCheck(new Linear(outFeatures), [inFeatures], n, seed: (ulong)(inFeatures * 7 + outFeatures), epsilon: 0.25f);
        check.Run(SampledCoordinates, absolute: 1e-4, relative: 1e-4);
    }

    [Theory]
    //          N  C  H  W  k  s
    [InlineData(2, 3, 7, 7, 2, 2)]   // odd size: last row and column dropped
    [InlineData(2, 2, 5, 5, 2, 1)]   // overlapping
    [InlineData(1, 3, 9, 8, 3, 2)]   // overlapping, odd, non-square
    [InlineData(2, 2, 8, 8, 3, 3)]   // stride does not divide (8−3)
    [InlineData(1, 2, 6, 7, 3, 1)]   // heavily overlapping
    public void MaxPool2DGradientsMatchFiniteDifferences(int n, int c, int h, int w, int kernel, int stride)
    {
        var check = new LayerCheck(new MaxPool2D(kernel, stride), [c, h, w], n, seed: (ulong)(h * 10 + w + kernel), epsilon: 0.01f);
        // Distinct values 0.05 apart in shuffled order: no window has a tie or a near-tie.
        var values = check.Input.Span;
        var order = Enumerable.Range(0, values.Length).ToArray();
        new Rng(99).Shuffle(order.AsSpan());
        for (int i = 0; i < values.Length; i++) values[i] = (order[i] - values.Length / 2) * 0.05f;
        check.Run(int.MaxValue, absolute: 1e-5, relative: 1e-5); // every coordinate: it is cheap
    }

    [Theory]
    [InlineData(4, 10)]
    [InlineData(3, 2)]
    [InlineData(2, 33)]
    public void SoftmaxGradientsMatchFiniteDifferences(int n, int classes)
    {
        var check = new LayerCheck(new Softmax(), [classes], n, seed: (ulong)(classes + n), epsilon: 1e-2f, inputScale: 2f);
        check.Run(SampledCoordinates, absolute: 2e-4, relative: 2e-3);
    }

    [Theory]
    [InlineData(4, 10, false)]
    [InlineData(4, 10, true)]
    [InlineData(7, 3, true)]
    public void CrossEntropyGradientsMatchFiniteDifferences(int n, int classes, bool soft)
    {
        var rng = new Rng((ulong)(n * 31 + classes + (soft ? 1 : 0)));
        var logits = RandomTensor(rng, 2f, n, classes);
        int[] labels = Enumerable.Range(0, n).Select(_ => rng.NextInt(classes)).ToArray();
        var targets = new Tensor(n, classes);
        for (int row = 0; row < n; row++)
        {
            // mixup-like: λ·onehot(a) + (1 − λ)·onehot(b)
            float λ = 0.2f + 0.6f * rng.NextFloat();
            targets.Span[row * classes + labels[row]] += λ;
            targets.Span[row * classes + rng.NextInt(classes)] += 1 - λ;
        }
        var loss = new CrossEntropyLoss();
        double Loss() => soft ? loss.Forward(logits, targets) : loss.Forward(logits, labels);

        Loss();
        var analytic = loss.Backward().Clone();
        var failures = new StringBuilder();
        int checkedCount = 0;
        foreach (int i in Sample(rng, logits.Length, SampledCoordinates))
        {
            double numeric = CentralDifference(logits.Span, i, 1e-2f, Loss);
            Record(failures, "logits", i, analytic.Span[i], numeric, absolute: 2e-4, relative: 2e-3);
            checkedCount++;
        }
        Assert.True(checkedCount > 0);
        Assert.True(failures.Length == 0, $"cross-entropy ({(soft ? "soft" : "hard")} labels, [{n}, {classes}]):\n{failures}");
    }

    // ------------------------------------------------------------------------------------------

    /// <summary>Builds a layer, runs Forward and Backward(R) once, then checks sampled coordinates.</summary>
    sealed class LayerCheck
    {
        readonly Layer layer;
        readonly Rng rng;
        readonly float epsilon;
        readonly int[] sampleShape;
        public Tensor Input { get; }

        public LayerCheck(Layer layer, int[] sampleShape, int batch, ulong seed, float epsilon, float inputScale = 1f)
        {
            this.layer = layer;
            this.sampleShape = sampleShape;
            this.epsilon = epsilon;
            rng = new Rng(seed);
            layer.Build(sampleShape, rng);
            foreach (var parameter in layer.Parameters)
                if (parameter.Name == "bias") // biases start at zero; make them non-trivial
                    for (int i = 0; i < parameter.Value.Length; i++) parameter.Value.Span[i] = (float)(0.1 * rng.NextGaussian());
            Input = RandomTensor(rng, inputScale, [batch, .. sampleShape]);
        }

        public void Run(int samples, double absolute, double relative)
        {
            var output = layer.Forward(Input, training: true);
            var r = RandomTensor(rng, 1f, output.ShapeArray);
            var analyticInput = layer.Backward(r).Clone();
            var analyticParameters = layer.Parameters.Select(p => (p.Name, p.Value, Gradient: p.Gradient.Clone())).ToList();

            double L()
            {
                var y = layer.Forward(Input, training: true).Span;
                var weights = r.Span;
                double sum = 0;
                for (int i = 0; i < y.Length; i++) sum += (double)y[i] * weights[i];
                return sum;
            }

            var failures = new StringBuilder();
            int checkedCount = 0;
            foreach (int i in Sample(rng, Input.Length, samples))
            {
                Record(failures, "input", i, analyticInput.Span[i], CentralDifference(Input.Span, i, epsilon, L), absolute, relative);
                checkedCount++;
            }
            foreach (var (name, value, gradient) in analyticParameters)
                foreach (int i in Sample(rng, value.Length, samples))
                {
                    Record(failures, name, i, gradient.Span[i], CentralDifference(value.Span, i, epsilon, L), absolute, relative);
                    checkedCount++;
                }
            Assert.True(checkedCount > 0);
            Assert.True(failures.Length == 0,
                $"{layer} on {Tensor.ShapeString(Input.Shape)} (sample {Tensor.ShapeString(sampleShape)}):\n{failures}");
        }
    }

    /// <summary>(L(x + ε) − L(x − ε)) / (the float32 step actually taken), restoring x[i].</summary>
    static double CentralDifference(Span<float> values, int i, float epsilon, Func<double> loss)
    {
        float original = values[i];
        float plus = original + epsilon, minus = original - epsilon;
        values[i] = plus;
        double lossPlus = loss();
        values[i] = minus;
        double lossMinus = loss();
        values[i] = original;
        return (lossPlus - lossMinus) / ((double)plus - minus);
    }

    static void Record(StringBuilder failures, string name, int index, float analytic, double numeric, double absolute, double relative)
    {
        double error = Math.Abs(analytic - numeric);
        double allowed = absolute + relative * Math.Abs(numeric);
        if (!(error <= allowed))
            failures.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name}[{index}]: backward {analytic:R}, finite difference {numeric:G9}, error {error:G3} > allowed {allowed:G3}"));
    }

    /// <summary>Up to <paramref name="count"/> distinct indices in [0, length), always including the first and last.</summary>
    static IEnumerable<int> Sample(Rng rng, int length, int count)
    {
        if (count >= length) return Enumerable.Range(0, length);
        var chosen = new SortedSet<int> { 0, length - 1 };
        while (chosen.Count < count) chosen.Add(rng.NextInt(length));
        return chosen;
    }

    static Tensor RandomTensor(Rng rng, float scale, params int[] shape)
    {
        var tensor = new Tensor(shape);
        var span = tensor.Span;
        for (int i = 0; i < span.Length; i++) span[i] = scale * (float)rng.NextGaussian();
        return tensor;
    }
}
