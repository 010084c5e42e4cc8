using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// The products in Winograd's domain (<see cref="WinogradProducts"/>) against their naive twins, on every GEMM kernel this CPU
/// has (AVX-512 blocks, and the <see cref="Gemm.Multiply"/> fallback on AVX2 and scalar), with garbage (NaN) in the lanes past
/// the last tile, and the whole Winograd forward and weight gradient on each kernel against the direct loops.
/// </summary>
public class WinogradProductsTests
{
    /// <summary>output channels, channels, tiles: the four networks' layers (49 = one 14x14 image, 98 two; 16 one 7x7), remainders, fallbacks.</summary>
    public static IEnumerable<object[]> Sizes()
    {
        yield return [64, 64, 98];
        yield return [64, 32, 49];
        yield return [128, 64, 64];
        yield return [32, 16, 144];
        yield return [16, 32, 37];
        yield return [8, 48, 1];
        yield return [24, 80, 113];   // 64 + 16 channels: both weight-gradient blocks
        yield return [32, 16, 51];    // 3 tiles past 48: the dot products, an odd count
        yield return [16, 64, 20];    // 4 tiles past 16
        yield return [5, 7, 30];      // not multiples of 8 / 16: the GEMM fallback
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ForwardMatchesTheTwin(int outChannels, int channels, int tiles)
    {
        var rng = new Rng((ulong)(outChannels * 1000 + channels * 10 + tiles));
        int rowLength = tiles + 16 + (tiles % 16 == 0 ? 4 : 0);
        var u = TestData.Random(16 * outChannels * channels, rng);
        var v = WithGarbage(TestData.Random(16 * channels * rowLength, rng), channels, tiles, rowLength);
        var expected = new float[16 * outChannels * rowLength];
        WinogradProducts.ForwardNaive(u, v, outChannels, channels, tiles, rowLength, expected);
        foreach (var kernel in GemmTests.Kernels())
        {
            using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
            var m = new float[expected.Length];
            m.AsSpan().Fill(float.NaN);
            WinogradProducts.Forward(u, v, outChannels, channels, tiles, rowLength, m);
            for (int row = 0; row < 16 * outChannels; row++)
                TestData.AssertClose(expected.AsSpan(row * rowLength, tiles), m.AsSpan(row * rowLength, tiles), 1e-5 * channels, 1e-5, $"{kernel}, row {row}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void WeightGradientMatchesTheTwin(int outChannels, int channels, int tiles)
    {
        var rng = new Rng((ulong)(outChannels * 1000 + channels * 10 + tiles + 3));
        int rowLength = tiles + 16 + (tiles % 16 == 0 ? 4 : 0);
        var δm = WithGarbage(TestData.Random(16 * outChannels * rowLength, rng), outChannels, tiles, rowLength);
        var v = WithGarbage(TestData.Random(16 * channels * rowLength, rng), channels, tiles, rowLength);
        var start = TestData.Random(16 * outChannels * channels, rng);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = start.ToArray();
            WinogradProducts.WeightGradientNaive(δm, v, outChannels, channels, tiles, rowLength, expected, accumulate);
            foreach (var kernel in GemmTests.Kernels())
            {
                using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
                var δu = start.ToArray();
                WinogradProducts.WeightGradient(δm, v, outChannels, channels, tiles, rowLength, δu, accumulate);
                TestData.AssertClose(expected, δu, 1e-5 * tiles, 1e-5, $"{kernel}, accumulate {accumulate}");
            }
        }
    }

    /// <summary>
    /// U and Ũ computed in two channel ranges (the workers' shares) equal them computed at once, bit for bit; and the gathered
    /// 8-filter vectors (AVX2, AVX-512 tunings) equal the scalar loop's results bit for bit.
    /// </summary>
    [Theory]
    [InlineData(6, 5)]
    [InlineData(20, 11)]
    public void FilterTransformsInPartsEqualTheWhole(int outChannels, int channels)
    {
        var weight = TestData.Random(outChannels * channels * 9, new Rng(6));
        float[] scalarU = new float[16 * outChannels * channels], scalarŨ = new float[scalarU.Length];
        using (GemmTuning.Use(GemmTuning.Default with { Kernel = GemmKernel.Scalar }))
        {
            Winograd.TransformWeights(weight, outChannels, channels, scalarU);
            WinogradBackward.TransformFlippedWeights(weight, outChannels, channels, scalarŨ);
        }
        foreach (var kernel in GemmTests.Kernels())
        {
            using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
            var u = new float[scalarU.Length];
            Winograd.TransformWeights(weight, outChannels, channels, u);
            Assert.Equal(scalarU, u);
            WinogradBackward.TransformFlippedWeights(weight, outChannels, channels, u);
            Assert.Equal(scalarŨ, u);
            CheckFilterTransformParts(outChannels, channels);
        }
    }

    static void CheckFilterTransformParts(int outChannels, int channels)
    {
        var weight = TestData.Random(outChannels * channels * 9, new Rng(5));
        var whole = new float[16 * outChannels * channels];
        var parts = new float[whole.Length];
        Winograd.TransformWeights(weight, outChannels, channels, whole);
        parts.AsSpan().Fill(float.NaN);
        Winograd.TransformWeights(weight, outChannels, channels, parts, 0, outChannels / 3);
        Winograd.TransformWeights(weight, outChannels, channels, parts, outChannels / 3, outChannels);
        Assert.Equal(whole, parts);
        WinogradBackward.TransformFlippedWeights(weight, outChannels, channels, whole);
        parts.AsSpan().Fill(float.NaN);
        WinogradBackward.TransformFlippedWeights(weight, outChannels, channels, parts, 0, channels / 2);
        WinogradBackward.TransformFlippedWeights(weight, outChannels, channels, parts, channels / 2, channels);
        Assert.Equal(whole, parts);
        Assert.Throws<ArgumentException>(() => Winograd.TransformWeights(weight, outChannels, channels, parts, 2, outChannels + 1));
    }

    /// <summary>NaN in every lane from <paramref name="tiles"/> to the row's end: the kernels must not let it into a result.</summary>
    static float[] WithGarbage(float[] values, int rows, int tiles, int rowLength)
    {
        for (int row = 0; row < 16 * rows; row++) values.AsSpan(row * rowLength + tiles, rowLength - tiles).Fill(float.NaN);
        return values;
    }

    /// <summary>The Winograd forward and weight gradient of a few layer shapes on every GEMM kernel, against the direct loops.</summary>
    [WinogradTheory]
    [InlineData(2, 32, 64, 14, 14)]
    [InlineData(3, 16, 32, 12, 12)]
    [InlineData(1, 64, 16, 7, 7)]
    public void ConvolutionMatchesTheDirectLoopsOnEveryKernel(int batch, int channels, int outChannels, int height, int width)
    {
        var g = new ConvGeometry(channels, height, width, 3, 1, 1);
        var rng = new Rng((ulong)(batch * 100 + channels + height));
        var x = TestData.Random(batch * channels * g.InputPixels, rng);
        var weight = TestData.Random(outChannels * channels * 9, rng, 0.5f);
        var δy = TestData.Random(batch * outChannels * g.OutputPixels, rng);
        var expectedY = new float[δy.Length];
        ConvolutionNaive.Forward(x, weight, default, expectedY, batch, outChannels, g);
        var expectedδw = new float[weight.Length];
        ConvolutionNaive.Backward(x, weight, δy, new float[x.Length], expectedδw, default, batch, outChannels, g);
        var u = new float[16 * outChannels * channels];
        Winograd.TransformWeights(weight, outChannels, channels, u);
        int rowLength = Winograd.RowLength(g, batch);
        foreach (var kernel in GemmTests.Kernels())
        {
            using var scope = GemmTuning.Use(GemmTuning.Default with { Kernel = kernel });
            var y = Filled(δy.Length);
            Winograd.Forward(x, u, default, default, batch, outChannels, g, Activation.None, Filled(16 * channels * rowLength),
                             Filled(16 * outChannels * rowLength), Filled(Winograd.PaddedPlaneSize(g)), y);
            TestData.AssertClose(expectedY, y, 1e-5 * channels * 9, 1e-5, $"{kernel}: forward");
            var δu = Filled(u.Length);
            WinogradBackward.WeightGradient(x, δy, batch, outChannels, g, Filled(16 * channels * rowLength), Filled(16 * outChannels * rowLength),
                                            Filled(Winograd.PaddedPlaneSize(g)), Filled(WinogradBackward.PaddedGradientPlaneSize(g)), δu, accumulate: false);
            var δw = Filled(weight.Length);
            WinogradBackward.FinishWeightGradient(δu, outChannels, channels, δw);
            TestData.AssertClose(expectedδw, δw, 1e-5 * batch * g.OutputPixels, 1e-5, $"{kernel}: δweight");
        }
    }

    static float[] Filled(int length)
    {
        var values = new float[length];
        values.AsSpan().Fill(float.NaN);
        return values;
    }
}
