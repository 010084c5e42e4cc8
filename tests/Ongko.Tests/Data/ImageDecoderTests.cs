using Ongko.Data;

namespace Ongko.Tests.Data;

public class ImageDecoderTests
{
    static string Fixture(string name) => Path.Combine(DataTestSupport.FixtureDirectory, name);

    [Theory]
    // file, tolerance on grey (stb's luma weights differ slightly from OpenCV's), tolerance on RGB (JPEG decoders differ)
    [InlineData("grey8.png", 0, 0)]
    [InlineData("grey16.png", 0, 0)]
    [InlineData("rgb.png", 2, 0)]
    [InlineData("rgba.png", 2, 0)]
    [InlineData("palette.png", 2, 0)]
    [InlineData("photo.jpg", 6, 6)]
    public void DecodesLikeOpenCvImread(string file, int greyTolerance, int rgbTolerance)
    {
        string key = file.Replace('.', '_');
        var (greyShape, grey) = DataTestSupport.ReadU8(key + "_grey");
        var (_, rgb) = DataTestSupport.ReadU8(key + "_rgb");

        var asGrey = ImageDecoder.Decode(Fixture(file), 1);
        Assert.Equal((1, greyShape[0], greyShape[1]), (asGrey.Channels, asGrey.Height, asGrey.Width));
        AssertNear(grey, asGrey.Data, greyTolerance, file + " as grey");

        var asRgb = ImageDecoder.Decode(Fixture(file), 3);
        Assert.Equal(3, asRgb.Channels);
        AssertNear(rgb, asRgb.Data, rgbTolerance, file + " as RGB");
    }

    [Fact]
    public void CompactDecodingKeepsGreyImagesOnOnePlane()
    {
        Assert.Equal(1, ImageDecoder.DecodeCompact(Fixture("grey8.png"), 3).Channels);
        Assert.Equal(1, ImageDecoder.DecodeCompact(Fixture("grey16.png"), 3).Channels);
        Assert.Equal(3, ImageDecoder.DecodeCompact(Fixture("rgb.png"), 3).Channels);
        Assert.Equal(1, ImageDecoder.DecodeCompact(Fixture("rgb.png"), 1).Channels);
    }

    [Fact]
    public void TruncatedNonImageEmptyAndMissingFilesGiveAClearMessageNamingTheFile()
    {
        using var temp = DataTestSupport.NewTempFolder();
        byte[] png = File.ReadAllBytes(Fixture("rgb.png"));
        File.WriteAllBytes(temp["cut.png"], png.AsSpan(0, png.Length / 2).ToArray());
        File.WriteAllText(temp["notes.png"], "this is text, not a picture");
        File.WriteAllBytes(temp["empty.jpg"], []);
        byte[] jpeg = File.ReadAllBytes(Fixture("photo.jpg"));
        File.WriteAllBytes(temp["cut.jpg"], jpeg.AsSpan(0, 40).ToArray());

        AssertFails(temp["cut.png"], "truncated");
        AssertFails(temp["notes.png"], "not a PNG or JPEG");
        AssertFails(temp["empty.jpg"], "empty");
        AssertFails(temp["cut.jpg"], "cannot decode");
        AssertFails(temp["missing.png"], "not found");
    }

    static void AssertFails(string path, string fragment)
    {
        var error = Assert.Throws<DataException>(() => ImageDecoder.Decode(path, 1));
        Assert.Contains(path, error.Message);
        Assert.Contains(fragment, error.Message);
        Assert.Equal(path, error.FilePath);
    }

    static void AssertNear(byte[] expected, byte[] actual, int tolerance, string what)
    {
        Assert.True(expected.Length <= actual.Length, $"{what}: {actual.Length} bytes, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}: byte {i} is {actual[i]}, OpenCV {expected[i]} (tolerance {tolerance})");
    }
}
