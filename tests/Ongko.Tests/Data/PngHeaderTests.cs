using System.Buffers.Binary;
using Ongko.Data;
using Ongko.Tests.Hostile;
using StbImageSharp;

namespace Ongko.Tests.Data;

/// <summary>The PNG header read straight from IHDR says what stb_image's header scan says, or leaves the file to that scan.</summary>
public class PngHeaderTests
{
    static byte[] WithHeader(int width, int height, byte depth, byte colour, byte interlace = 0, int ihdrLength = 13)
    {
        var png = HostileFiles.PngDeclaring(width, height);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(8), ihdrLength);
        png[24] = depth;
        png[25] = colour;
        png[28] = interlace;
        return png;
    }

    [Theory]
    [InlineData(0, 1)] [InlineData(0, 2)] [InlineData(0, 4)] [InlineData(0, 8)] [InlineData(0, 16)]
    [InlineData(2, 8)] [InlineData(2, 16)] [InlineData(4, 8)] [InlineData(4, 16)] [InlineData(6, 8)] [InlineData(6, 16)]
    public void EveryDirectColourTypeReadsAsStbReadsIt(byte colour, byte depth)
    {
        foreach (var (width, height, interlace) in new[] { (28, 28, (byte)0), (3, 700, (byte)1), (4000, 1, (byte)0) })
        {
            var png = WithHeader(width, height, depth, colour, interlace);
            var stb = ImageInfo.FromStream(new MemoryStream(png))!.Value;
            var direct = ImageDecoder.PngHeader(png);
            Assert.NotNull(direct);
            Assert.Equal((stb.Width, stb.Height, stb.ColorComponents), (direct.Value.Width, direct.Value.Height, direct.Value.ColorComponents));
        }
    }

    /// <summary>Palettes (their component count comes from later chunks), and whatever stb_image refuses or reads differently, go to its scan.</summary>
    [Fact]
    public void OtherHeadersAreLeftToStb()
    {
        Assert.Null(ImageDecoder.PngHeader(WithHeader(5, 5, 8, 3)));               // palette
        Assert.Null(ImageDecoder.PngHeader(WithHeader(5, 5, 8, 0, interlace: 2))); // unknown interlace method
        Assert.Null(ImageDecoder.PngHeader(WithHeader(5, 5, 3, 0)));               // no such bit depth
        Assert.Null(ImageDecoder.PngHeader(WithHeader(5, 5, 4, 2)));               // RGB comes in 8 or 16 bits only
        Assert.Null(ImageDecoder.PngHeader(WithHeader(5, 5, 8, 7)));               // no such colour type
        Assert.Null(ImageDecoder.PngHeader(WithHeader(5, 5, 8, 0, ihdrLength: 12)));
        Assert.Null(ImageDecoder.PngHeader(WithHeader(0, 5, 8, 0)));
        Assert.Null(ImageDecoder.PngHeader(WithHeader((1 << 24) + 1, 1, 8, 0)));   // over stb_image's largest side
        Assert.Null(ImageDecoder.PngHeader(WithHeader(1 << 16, 1 << 15, 8, 6)));   // over its 2^30-byte image
        // The decoder then reports the problem through stb_image's scan, as before.
        var e = Assert.Throws<DataException>(() => ImageDecoder.Decode(WithHeader(5, 5, 8, 7), 1, "odd.png"));
        Assert.Contains("odd.png", e.Message);
    }
}
