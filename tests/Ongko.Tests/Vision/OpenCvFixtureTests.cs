using Ongko.Tests.Data;
using Ongko.Vision;

namespace Ongko.Tests.Vision;

/// <summary>Threshold, morphology, resize and connected regions against OpenCV 4.6 (fixtures/make_vision_fixtures.py).</summary>
public class OpenCvFixtureTests
{
    [Fact]
    public void OtsuThresholdAndMaskMatchOpenCv()
    {
        int count = 0;
        foreach (var (name, values) in DataTestSupport.Cases("otsu"))
        {
            var (shape, input) = DataTestSupport.ReadU8(name + "_in");
            var (_, expected) = DataTestSupport.ReadU8(name + "_out");
            byte threshold = Threshold.Otsu(input);
            Assert.True(int.Parse(values["threshold"]) == threshold, $"{name} ({shape[0]}x{shape[1]}): Otsu {threshold}, OpenCV {values["threshold"]}");
            var mask = new byte[input.Length];
            Threshold.Binary(input, mask, threshold);
            AssertEqual(expected, mask, name + " mask");
            count++;
        }
        Assert.Equal(6, count);
    }

    [Fact]
    public void MorphologyMatchesOpenCvExactly()
    {
        int count = 0;
        foreach (var (name, values) in DataTestSupport.Cases("morph"))
        {
            var (shape, input) = DataTestSupport.ReadU8(name + "_in");
            string op = values["op"]; int kernel = int.Parse(values["kernel"]);
            var (_, expected) = DataTestSupport.ReadU8($"{name}_{op}{kernel}");
            var actual = new byte[input.Length];
            int h = shape[0], w = shape[1];
            switch (op)
            {
                case "erode": Morphology.Erode(input, actual, h, w, kernel); break;
                case "dilate": Morphology.Dilate(input, actual, h, w, kernel); break;
                case "open": Morphology.Open(input, actual, h, w, kernel); break;
                case "close": Morphology.Close(input, actual, h, w, kernel); break;
                default: throw new InvalidOperationException(op);
            }
            AssertEqual(expected, actual, $"{name} {op} {kernel}x{kernel} ({h}x{w})");
            count++;
        }
        Assert.Equal(64, count);
    }

    [Fact]
    public void AreaResizeIsWithinOneGreyLevelOfOpenCv()
    {
        int count = 0;
        foreach (var (name, values) in DataTestSupport.Cases("resize"))
        {
            var (shape, input) = DataTestSupport.ReadU8(name + "_in");
            var (_, expected) = DataTestSupport.ReadU8(name + "_out");
            int h = int.Parse(values["height"]), w = int.Parse(values["width"]);
            var actual = new byte[h * w];
            Resize.Area(input, shape[0], shape[1], actual, h, w);
            int worst = 0, at = -1, off = 0;
            for (int i = 0; i < actual.Length; i++)
            {
                int d = Math.Abs(actual[i] - expected[i]);
                if (d > 0) off++;
                if (d > worst) { worst = d; at = i; }
            }
            Assert.True(worst <= 1, $"{name} {shape[0]}x{shape[1]} -> {h}x{w}: pixel {at} is {(at < 0 ? 0 : actual[at])}, OpenCV {(at < 0 ? 0 : expected[at])}");
            Assert.True(off <= actual.Length / 4, $"{name}: {off} of {actual.Length} pixels differ by one level (rounding should rarely differ)");
            count++;
        }
        Assert.Equal(11, count);
    }

    [Fact]
    public void LargestRegionBoxMatchesOpenCvConnectedComponents()
    {
        int count = 0;
        foreach (var (name, values) in DataTestSupport.Cases("components"))
        {
            var (shape, mask) = DataTestSupport.ReadU8(name + "_in");
            var box = Components.LargestRegion(mask, shape[0], shape[1]);
            var expected = new PixelBox(int.Parse(values["x"]), int.Parse(values["y"]), int.Parse(values["width"]), int.Parse(values["height"]));
            Assert.Equal(expected, box);
            count++;
        }
        Assert.Equal(3, count);
    }

    [Fact]
    public void EmptyMaskHasNoRegion() => Assert.Null(Components.LargestRegion(new byte[12], 3, 4));

    static void AssertEqual(byte[] expected, byte[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i], $"{what}: pixel {i} is {actual[i]}, OpenCV {expected[i]}");
    }
}
