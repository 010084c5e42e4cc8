using Ongko.Layers;
using Ongko.Tensors;

namespace Ongko.Tests.Torch;

/// <summary>
/// Dropout and Dropout2D with PyTorch's semantics (inverted dropout: kept values times 1/(1 − p), dropped ones 0,
/// identity in evaluation; Dropout2d drops whole [H, W] planes). PyTorch's masks come from its own generator,
/// so these tests check the rules instead of fixture values.
/// </summary>
public class DropoutSemanticsTests
{
    static Tensor Random(int[] shape, ulong seed)
    {
        var t = new Tensor(shape);
        var rng = new Rng(seed);
        var span = t.Span;
        for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextGaussian() + 3); // never 0: a 0 output means dropped
        return t;
    }

    static Dropout Built(Dropout layer, int[] sampleShape, ulong seed)
    {
        layer.Build(sampleShape, new Rng(seed));
        return layer;
    }

    [Theory]
    [InlineData(0.3f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    public void KeptValuesAreScaledExactlyAndTheDroppedFractionIsP(float p)
    {
        var x = Random([200, 500], 1);
        var layer = Built(new Dropout(p), [500], 7);
        var y = layer.Forward(x, training: true);
        float scale = 1 / (1 - p);
        int dropped = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (y.Span[i] == 0) { dropped++; continue; }
            if (y.Span[i] != x.Span[i] * scale) Assert.Fail($"element {i}: {y.Span[i]:R}, expected 0 or {x.Span[i]:R}·1/(1−p) = {x.Span[i] * scale:R}");
        }
        // Binomial(100000, p): the standard deviation of the fraction is √(p(1−p)/n) ≤ 0.0016; allow 5 of them.
        double fraction = dropped / (double)x.Length, sigma = Math.Sqrt(p * (1 - p) / x.Length);
        Assert.True(Math.Abs(fraction - p) < 5 * sigma, $"dropped {fraction:F4} of the values, expected {p} ± {5 * sigma:F4}");
    }

    [Fact]
    public void Dropout2DDropsWholeChannels()
    {
        const float p = 0.3f;
        int[] shape = [64, 32, 3, 4];
        var x = Random(shape, 2);
        var y = Built(new Dropout2D(p), shape[1..], 8).Forward(x, training: true);
        int planes = shape[0] * shape[1], plane = shape[2] * shape[3], dropped = 0;
        var perSampleDropped = new int[shape[0]];
        for (int u = 0; u < planes; u++)
        {
            var xs = x.Span.Slice(u * plane, plane);
            var ys = y.Span.Slice(u * plane, plane);
            bool isDropped = ys[0] == 0;
            for (int i = 0; i < plane; i++)
            {
                float expected = isDropped ? 0 : xs[i] * (1 / (1 - p));
                if (ys[i] != expected) Assert.Fail($"plane {u} (sample {u / shape[1]}, channel {u % shape[1]}) element {i}: {ys[i]:R}, expected {expected:R}: a plane is kept or dropped whole");
            }
            if (isDropped) { dropped++; perSampleDropped[u / shape[1]]++; }
        }
        double fraction = dropped / (double)planes, sigma = Math.Sqrt(p * (1 - p) / planes);
        Assert.True(Math.Abs(fraction - p) < 5 * sigma, $"dropped {fraction:F4} of the planes, expected {p} ± {5 * sigma:F4}");
        // Decisions are per (sample, channel), not per sample.
        Assert.Contains(perSampleDropped, count => count > 0 && count < shape[1]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BackwardUsesTheForwardMask(bool channels)
    {
        const float p = 0.4f;
        int[] shape = [8, 6, 5, 5];
        var x = Random(shape, 3);
        var layer = Built(channels ? new Dropout2D(p) : new Dropout(p), shape[1..], 9);
        var y = layer.Forward(x, training: true).Clone();
        var δy = Random(shape, 4);
        var δx = layer.Backward(δy);
        for (int i = 0; i < x.Length; i++)
        {
            float expected = y.Span[i] == 0 ? 0f : δy.Span[i] * (1 / (1 - p));
            if (δx.Span[i] != expected) Assert.Fail($"δinput element {i}: {δx.Span[i]:R}, expected {expected:R} (the forward {(y.Span[i] == 0 ? "dropped" : "kept")} it)");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EvaluationIsTheIdentity(bool channels)
    {
        int[] shape = [4, 3, 5, 5];
        var x = Random(shape, 5);
        var layer = Built(channels ? new Dropout2D(0.5f) : new Dropout(0.5f), shape[1..], 10);
        layer.Forward(x, training: true); // a training pass first: eval must not reuse its mask
        TensorAssert.Exact("eval output", x, layer.Forward(x, training: false));
        var δy = Random(shape, 6);
        TensorAssert.Exact("eval δinput", δy, layer.Backward(δy));
    }

    [Fact]
    public void ZeroProbabilityIsTheIdentityInTraining()
    {
        var x = Random([4, 30], 11);
        var layer = Built(new Dropout(0), [30], 12);
        TensorAssert.Exact("p = 0 output", x, layer.Forward(x, training: true));
    }

    [Fact]
    public void MasksFollowTheSeedAndFreshMasksAreDrawnEachStep()
    {
        var x = Random([16, 64], 13);
        var a = Built(new Dropout(0.5f), [64], 42);
        var b = Built(new Dropout(0.5f), [64], 42);
        var c = Built(new Dropout(0.5f), [64], 43);
        var ya = a.Forward(x, training: true).Clone();
        TensorAssert.Exact("same seed, same mask", ya, b.Forward(x, training: true));
        Assert.True(TensorAssert.Compare("another seed", ya, c.Forward(x, training: true), 1) is not null, "another seed gave the same mask");
        Assert.True(TensorAssert.Compare("next step", ya, a.Forward(x, training: true), 1) is not null, "the next training step reused the mask");
    }

    [Fact]
    public void SavedStateReproducesTheMaskStream()
    {
        var x = Random([16, 64], 14);
        var a = Built(new Dropout(0.5f), [64], 42);
        a.Forward(x, training: true);
        string state = a.SaveState() ?? throw new InvalidOperationException("Dropout must save its generator state");
        var next1 = a.Forward(x, training: true).Clone();
        var next2 = a.Forward(x, training: true).Clone();
        var resumed = Built(new Dropout(0.5f), [64], 999);
        resumed.LoadState(state);
        TensorAssert.Exact("resumed step 1", next1, resumed.Forward(x, training: true));
        TensorAssert.Exact("resumed step 2", next2, resumed.Forward(x, training: true));
    }

    /// <summary>The masks are the generator's NextFloat stream, one draw per unit kept where it is at least p (drawn in bulk now: same values).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MasksAreOneNextFloatPerUnit(bool channels)
    {
        int[] shape = [3, 4, 5, 7];
        var layer = Built(channels ? new Dropout2D(0.3f) : new Dropout(0.3f), shape[1..], 17);
        var generator = Rng.FromState(layer.SaveState()!);
        var x = Random(shape, 18);
        var y = layer.Forward(x, training: true).Span;
        int unit = channels ? 5 * 7 : 1;
        for (int i = 0; i < x.Length; i += unit)
        {
            float scale = generator.NextFloat() >= 0.3f ? 1 / (1 - 0.3f) : 0;
            for (int j = i; j < i + unit; j++) Assert.Equal(x.Span[j] * scale, y[j]);
        }
        Assert.Equal(generator.SaveState(), layer.SaveState());   // the bulk draw leaves the generator where the single draws do
    }

    [Fact]
    public void BulkDrawsAreTheSingleDraws()
    {
        var (single, bulk) = (new Rng(99), new Rng(99));
        var values = new float[1001];
        bulk.NextFloats(values);
        foreach (float value in values) Assert.Equal(single.NextFloat(), value);
        Assert.Equal(single.SaveState(), bulk.SaveState());
    }
}
