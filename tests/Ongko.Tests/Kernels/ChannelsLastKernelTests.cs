using Ongko.Kernels;
using Ongko.Tensors;

namespace Ongko.Tests.Kernels;

/// <summary>
/// The inference plan's kernels (channels-last direct convolution with and without 2x2 pooling, Winograd, the packed matrix-vector product) against
/// their naive twins, by every kernel this CPU has (AVX-512, AVX2, scalar), on random shapes.
/// </summary>
public unsafe class ChannelsLastKernelTests
{
    public static IEnumerable<object[]> Kernels() =>
        Enum.GetValues<GemmKernel>().Where(kernel => kernel <= Gemm.Best).Select(kernel => new object[] { kernel });

    /// <summary>channels, output channels (1 to 4 blocks of 16, whole and ragged), height, width, kernel, stride, padding.</summary>
    static IEnumerable<int[]> ConvolutionShapes()
    {
        yield return [1, 32, 28, 28, 3, 1, 1];
        yield return [3, 16, 12, 12, 3, 1, 1];
        yield return [32, 64, 14, 14, 3, 1, 1];
        yield return [64, 128, 7, 7, 3, 1, 1];
        yield return [5, 20, 9, 11, 5, 2, 2];
        yield return [2, 48, 1, 1, 1, 1, 0];
        yield return [7, 96, 6, 5, 3, 1, 0];
        var rng = new Rng(515);
        for (int i = 0; i < 10; i++)
        {
            int kernel = 1 + 2 * rng.NextInt(3), stride = 1 + rng.NextInt(2), padding = rng.NextInt(kernel / 2 + 1);
            yield return [1 + rng.NextInt(40), 1 + rng.NextInt(80), kernel + rng.NextInt(12), kernel + rng.NextInt(12), kernel, stride, padding];
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void ConvolutionMatchesItsTwin(GemmKernel kernel)
    {
        foreach (var shape in ConvolutionShapes())
        {
            int channels = shape[0], outChannels = shape[1], height = shape[2], width = shape[3], k = shape[4], stride = shape[5], padding = shape[6];
            var g = new ConvGeometry(channels, height, width, k, stride, padding);
            var rng = new Rng((ulong)(channels * 7919 + outChannels * 104729 + height * 31 + width + k));
            // The input: channels-last with a zero border of the padding, a pixel stride wider than the channels (a padded layer).
            int pixelStride = channels + 3;
            var x = RandomChannelsLastInput(rng, channels, height, width, padding, pixelStride, out int rowStride);
            var weight = TestData.Random(outChannels * g.PatchSize, rng, 0.5f);
            int padded = ChannelsLastConvolution.PaddedChannels(outChannels);
            var scale = TestData.Random(padded, rng, 2f);
            var shift = TestData.Random(padded, rng);
            var packed = new float[ChannelsLastConvolution.PackedSize(outChannels, channels, k)];
            ChannelsLastConvolution.PackWeights(weight, outChannels, channels, k, packed);
            // The output: a border of 1 and a row stride with slack; everything outside the written pixels must stay untouched.
            int yPixelStride = padded, yRowStride = (g.OutputWidth + 2) * yPixelStride + 16, yOffset = yRowStride + yPixelStride;
            int pixels = g.OutputPixels, start = pixels > 2 ? pixels / 3 : 0;
            foreach (var activation in new[] { Activation.None, Activation.ReLU })
            {
                var expected = new float[(g.OutputHeight + 2) * yRowStride];
                var actual = new float[expected.Length];
                expected.AsSpan().Fill(float.NaN);
                actual.AsSpan().Fill(float.NaN);
                ChannelsLastConvolution.ForwardNaive(x, rowStride, pixelStride, channels, weight, outChannels, k, stride, g.OutputWidth, start, pixels,
                                                     scale, shift, activation, expected.AsSpan(yOffset), yRowStride, yPixelStride);
                fixed (float* px = x, pw = packed, ps = scale, ph = shift, py = actual)
                    ChannelsLastConvolution.Forward(kernel, px, rowStride, pixelStride, channels, pw, outChannels, k, stride, g.OutputWidth, start, pixels,
                                                    ps, ph, activation, py + yOffset, yRowStride, yPixelStride);
                AssertSameUntouched(expected, actual);
                TestData.AssertClose(expected, actual, 1e-5 * g.PatchSize, 1e-5, $"{kernel} conv C{channels} OC{outChannels} {height}x{width} k{k} s{stride} p{padding} {activation}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PooledConvolutionMatchesItsTwins(GemmKernel kernel)
    {
        foreach (var (channels, outChannels, height, width, k, stride, padding) in new[] { (3, 16, 48, 48, 3, 1, 1), (1, 32, 28, 28, 3, 1, 1), (5, 40, 9, 11, 3, 1, 1),
                                                                                         (2, 16, 7, 5, 1, 1, 0), (4, 48, 13, 17, 5, 2, 2), (1, 16, 2, 3, 3, 1, 1) })
        {
            var g = new ConvGeometry(channels, height, width, k, stride, padding);
            var rng = new Rng((ulong)(channels * 13 + outChannels + height * 3 + width + k));
            int pixelStride = channels;
            var x = RandomChannelsLastInput(rng, channels, height, width, padding, pixelStride, out int rowStride);
            var weight = TestData.Random(outChannels * g.PatchSize, rng, 0.5f);
            int padded = ChannelsLastConvolution.PaddedChannels(outChannels);
            var scale = TestData.Random(padded, rng, 2f);
            var shift = TestData.Random(padded, rng);
            var packed = new float[ChannelsLastConvolution.PackedSize(outChannels, channels, k)];
            ChannelsLastConvolution.PackWeights(weight, outChannels, channels, k, packed);
            int pooledHeight = g.OutputHeight / 2, pooledWidth = g.OutputWidth / 2, directRow = g.OutputWidth * padded;
            int yRowStride = (pooledWidth + 2) * padded, start = pooledHeight / 3;
            var direct = new float[g.OutputPixels * padded];
            foreach (var activation in new[] { Activation.None, Activation.ReLU })
            {
                ChannelsLastConvolution.ForwardNaive(x, rowStride, pixelStride, channels, weight, outChannels, k, stride, g.OutputWidth, 0, g.OutputPixels,
                                                     scale, shift, activation, direct, directRow, padded);
                var expected = new float[(pooledHeight + 1) * yRowStride];
                var actual = new float[expected.Length];
                expected.AsSpan().Fill(float.NaN);
                actual.AsSpan().Fill(float.NaN);
                ChannelsLastConvolution.MaxPool2x2Naive(direct, directRow, padded, padded, pooledWidth, start, pooledHeight, expected, yRowStride, padded);
                fixed (float* px = x, pw = packed, ps = scale, ph = shift, py = actual)
                    ChannelsLastConvolution.ForwardPooled(kernel, px, rowStride, pixelStride, channels, pw, outChannels, k, stride, pooledWidth, start, pooledHeight,
                                                          ps, ph, activation, py, yRowStride, padded);
                AssertSameUntouched(expected, actual);
                TestData.AssertClose(expected, actual, 1e-5 * g.PatchSize, 1e-5, $"{kernel} pooled conv C{channels} OC{outChannels} {height}x{width} k{k} s{stride} {activation}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void WinogradMatchesTheDirectTwin(GemmKernel kernel)
    {
        foreach (var (channels, outChannels, height, width, pool) in new[] { (32, 64, 14, 14, false), (64, 64, 14, 14, true), (64, 128, 7, 7, true),
                                                                             (16, 32, 24, 24, true), (40, 20, 6, 8, false), (16, 16, 2, 3, true), (17, 33, 5, 9, true) })
        {
            var g = new ConvGeometry(channels, height, width, 3, 1, 1);
            Assert.True(ChannelsLastWinograd.Supports(g, ChannelsLastConvolution.PaddedChannels(channels), pool));
            var rng = new Rng((ulong)(channels * 31 + outChannels * 7 + height + width));
            // The input as a previous layer leaves it: channels-last, border 1, padded channels zero.
            int pixelStride = ChannelsLastConvolution.PaddedChannels(channels);
            var x = RandomChannelsLastInput(rng, channels, height, width, padding: 1, pixelStride, out int rowStride);
            var weight = TestData.Random(outChannels * g.PatchSize, rng, 0.5f);
            int padded = ChannelsLastConvolution.PaddedChannels(outChannels);
            var scale = TestData.Random(padded, rng, 2f);
            var shift = TestData.Random(padded, rng);
            var ones = Enumerable.Repeat(1f, padded).ToArray();
            var zeros = new float[padded];
            var u = new float[ChannelsLastWinograd.PackedSize(outChannels, channels)];
            ChannelsLastWinograd.TransformWeights(weight, outChannels, channels, u);
            int tilesHigh = g.OutputHeight / 2, tilesWide = g.OutputWidth / 2;
            var work = new float[ChannelsLastWinograd.WorkSize(tilesHigh * tilesWide, pixelStride, outChannels)];
            work.AsSpan().Fill(float.NaN);   // garbage in the work buffer must not matter
            // Expected: the direct twin (and its pooling) over the pixels the tiles cover.
            int yPixelStride = padded, directRow = g.OutputWidth * padded;
            var direct = new float[g.OutputPixels * padded];
            foreach (var activation in new[] { Activation.None, Activation.ReLU })
            {
                ChannelsLastConvolution.ForwardNaive(x, rowStride, pixelStride, channels, weight, outChannels, 3, 1, g.OutputWidth, 0, g.OutputPixels,
                                                     scale, shift, activation, direct, directRow, padded);
                int outHeight = pool ? tilesHigh : g.OutputHeight, outWidth = pool ? tilesWide : g.OutputWidth, yRowStride = (outWidth + 1) * yPixelStride;
                var expected = new float[(outHeight + 1) * yRowStride];
                var actual = new float[expected.Length];
                expected.AsSpan().Fill(float.NaN);
                actual.AsSpan().Fill(float.NaN);
                if (pool) ChannelsLastConvolution.MaxPool2x2Naive(direct, directRow, padded, padded, tilesWide, 0, tilesHigh, expected, yRowStride, yPixelStride);
                else
                    for (int y = 0; y < g.OutputHeight; y++) direct.AsSpan(y * directRow, directRow).CopyTo(expected.AsSpan(y * yRowStride));
                fixed (float* px = x, pu = u, po = ones, pz = zeros, ps = scale, ph = shift, pw = work, py = actual)
                {
                    // Two ranges of tile rows, as two workers would run them.
                    int half = tilesHigh / 2;
                    ChannelsLastWinograd.Forward(kernel, px, rowStride, pixelStride, channels, pu, outChannels, tilesWide, tilesHigh, 0, half * tilesWide,
                                                 po, pz, ps, ph, activation, pool, pw, py, yRowStride, yPixelStride);
                    ChannelsLastWinograd.Forward(kernel, px, rowStride, pixelStride, channels, pu, outChannels, tilesWide, tilesHigh, half * tilesWide, tilesHigh * tilesWide,
                                                 po, pz, ps, ph, activation, pool, pw, py, yRowStride, yPixelStride);
                }
                AssertSameUntouched(expected, actual);
                TestData.AssertClose(expected, actual, 2e-5 * g.PatchSize, 1e-4, $"{kernel} Winograd C{channels} OC{outChannels} {height}x{width} pool {pool} {activation}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PackedGemvMatchesItsTwin(GemmKernel kernel)
    {
        var rng = new Rng(91);
        foreach (var (outFeatures, inFeatures) in new[] { (10, 256), (1024, 1152), (512, 1024), (65, 33), (1, 1), (130, 7) })
        {
            var weight = TestData.Random(outFeatures * inFeatures, rng, 0.1f);
            // Columns in another order, with two reads of nothing (a padded channel).
            var columns = Enumerable.Range(0, inFeatures).Reverse().Concat([-1, -1]).ToArray();
            var x = TestData.Random(columns.Length, rng);
            int padded = PackedGemv.PaddedOutputs(outFeatures);
            var scale = TestData.Random(padded, rng, 2f);
            var shift = TestData.Random(padded, rng);
            var packed = new float[padded * columns.Length];
            PackedGemv.PackWeights(weight, outFeatures, inFeatures, columns, packed);
            int groups = padded / PackedGemv.Group;
            foreach (var activation in new[] { Activation.None, Activation.ReLU })
            {
                var expected = new float[padded + 8];
                var actual = new float[padded + 8];
                expected.AsSpan().Fill(float.NaN);
                actual.AsSpan().Fill(float.NaN);
                PackedGemv.ForwardNaive(x, weight, outFeatures, inFeatures, columns, scale, shift, activation, 0, groups, expected);
                fixed (float* px = x, pw = packed, ps = scale, ph = shift, py = actual)
                    PackedGemv.Forward(kernel, px, pw, columns.Length, ps, ph, activation, 0, groups, py);
                AssertSameUntouched(expected, actual);
                TestData.AssertClose(expected, actual, 1e-5 * Math.Sqrt(inFeatures), 1e-5, $"{kernel} gemv {outFeatures}x{inFeatures} {activation}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void PackedGemvOverRowsMatchesItsTwin(GemmKernel kernel)
    {
        var rng = new Rng(92);
        foreach (var (rows, outFeatures, inFeatures) in new[] { (19, 1024, 1152), (8, 70, 33), (7, 64, 9), (1, 10, 256) })
        {
            var weight = TestData.Random(outFeatures * inFeatures, rng, 0.1f);
            var columns = Enumerable.Range(0, inFeatures).ToArray();
            int padded = PackedGemv.PaddedOutputs(outFeatures), ldx = inFeatures + 3, ldy = padded + 5;
            var x = TestData.Random(rows * ldx, rng);
            var scale = TestData.Random(padded, rng, 2f);
            var shift = TestData.Random(padded, rng);
            var packed = new float[padded * inFeatures];
            PackedGemv.PackWeights(weight, outFeatures, inFeatures, columns, packed);
            var expected = new float[rows * ldy];
            var actual = new float[rows * ldy];
            expected.AsSpan().Fill(float.NaN);
            actual.AsSpan().Fill(float.NaN);
            for (int r = 0; r < rows; r++)
                PackedGemv.ForwardNaive(x.AsSpan(r * ldx, inFeatures), weight, outFeatures, inFeatures, columns, scale, shift, Activation.ReLU,
                                        0, padded / PackedGemv.Group, expected.AsSpan(r * ldy));
            fixed (float* px = x, pw = packed, ps = scale, ph = shift, py = actual)
                PackedGemv.ForwardRows(kernel, px, rows, ldx, pw, inFeatures, ps, ph, Activation.ReLU, 0, padded / PackedGemv.Group, py, ldy);
            AssertSameUntouched(expected, actual);
            TestData.AssertClose(expected, actual, 1e-5 * Math.Sqrt(inFeatures), 1e-5, $"{kernel} gemv rows {rows} x {outFeatures}x{inFeatures}");
        }
    }

    /// <summary>The buffers were NaN before: the fast kernel wrote exactly where the twin wrote (and no NaN came out of it).</summary>
    /// <summary>
    /// A random image [height, width, channels] in channels-last layout inside a zero border of <paramref name="padding"/>
    /// pixels, <paramref name="pixelStride"/> floats per pixel (the slots past the channels stay zero), as a layer leaves it.
    /// </summary>
    static float[] RandomChannelsLastInput(Rng rng, int channels, int height, int width, int padding, int pixelStride, out int rowStride)
    {
        rowStride = (width + 2 * padding) * pixelStride;
        var x = new float[(height + 2 * padding) * rowStride];
        for (int y = 0; y < height; y++)
            for (int xx = 0; xx < width; xx++)
                for (int c = 0; c < channels; c++) x[(y + padding) * rowStride + (xx + padding) * pixelStride + c] = rng.NextFloat() * 2 - 1;
        return x;
    }

    static void AssertSameUntouched(float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(float.IsNaN(expected[i]) == float.IsNaN(actual[i]), $"element {i}: {actual[i]}, the twin left {expected[i]}");
    }
}
