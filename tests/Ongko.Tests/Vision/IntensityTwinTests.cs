using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Tests.Vision;

/// <summary>The tuned intensity operations against their direct twins, bit for bit.</summary>
public class IntensityTwinTests
{
    [Fact]
    public void DivideByTableEqualsTheDivisionForEveryPair()
    {
        var source = new byte[256 * 256];
        var background = new byte[source.Length];
        for (int i = 0; i < source.Length; i++) (source[i], background[i]) = ((byte)(i >> 8), (byte)i);
        var table = new byte[source.Length];
        var direct = new byte[source.Length];
        Intensity.Divide(source, background, table);
        Intensity.DivideNaive(source, background, direct);
        Assert.Equal(direct, table);
        Assert.Equal(255, table[200 << 8 | 100]);   // saturated
        Assert.Equal(0, table[200 << 8]);           // background 0
        Assert.Equal(129, table[64 << 8 | 127]);    // 128.50... rounds up
    }

    /// <summary>Running sums with the border tables and the vector rounding give the window means summed directly.</summary>
    [Theory]
    [InlineData(28, 28, 3)] [InlineData(28, 28, 15)] [InlineData(5, 9, 7)] [InlineData(3, 2, 9)] [InlineData(1, 6, 5)] [InlineData(31, 17, 1)]
    public void BoxMeanEqualsTheWindowSums(int height, int width, int kernel)
    {
        var rng = new Rng((ulong)(height * 1000 + width * 10 + kernel));
        var image = new byte[height * width];
        for (int i = 0; i < image.Length; i++) image[i] = (byte)(rng.NextDouble() < 0.3 ? 255 : rng.NextInt(256));
        var fast = new byte[image.Length];
        Intensity.BoxMean(image, fast, height, width, kernel);
        int r = kernel / 2;
        double scale = 1.0 / ((double)kernel * kernel);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int sum = 0;
                for (int dy = -r; dy <= r; dy++)
                    for (int dx = -r; dx <= r; dx++)
                        sum += image[Intensity.Reflect101(y + dy, height) * width + Intensity.Reflect101(x + dx, width)];
                Assert.Equal((byte)Math.Min(255, Math.Round(sum * scale)), fast[y * width + x]);
            }
    }
}
