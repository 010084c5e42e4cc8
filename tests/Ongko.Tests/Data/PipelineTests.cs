using Ongko.Data;
using Ongko.Tensors;
using Ongko.Vision;

namespace Ongko.Tests.Data;

public class PipelineTests
{
    static float[] Render(ImagePipeline pipeline, ByteImage image, Rng? rng)
    {
        var output = new float[pipeline.SampleSize];
        pipeline.Process(image, rng, output);
        return output;
    }

    [Fact]
    public void ReverseAutoMakesBothPolaritiesTheSameAndOnOffDoWhatTheySay()
    {
        var light = DataTestSupport.SyntheticDigit(darkOnLight: false);
        var dark = DataTestSupport.SyntheticDigit(darkOnLight: true);
        var auto = new ImagePipeline(new AugmentOptions { Channels = 1, Reverse = ReverseMode.Auto });
        Assert.Equal(Render(auto, light, null), Render(auto, dark, null));
        Assert.True(Render(auto, dark, null)[0] < 0.1f, "background should be dark after reverse: auto");

        var on = new ImagePipeline(new AugmentOptions { Channels = 1, Reverse = ReverseMode.On });
        var off = new ImagePipeline(new AugmentOptions { Channels = 1, Reverse = ReverseMode.Off });
        Assert.Equal(Render(on, dark, null), Render(off, light, null));
        Assert.True(Render(off, dark, null)[0] > 0.9f);
    }

    [Fact]
    public void BoundingBoxCropsToTheDigitIgnoringSpecksAndFillsTheOutput()
    {
        var image = DataTestSupport.SyntheticDigit(60, 60);
        var region = new byte[image.PlaneSize];
        var box = ImagePipeline.FindDigit(image, region);
        Assert.NotNull(box);
        // The ring is centred at (27, 30) with radius 15; the speck at (58, 1) must not widen the box.
        Assert.InRange(box.Value.X, 10, 13); Assert.InRange(box.Value.Y, 10, 15);
        Assert.InRange(box.Value.X + box.Value.Width, 43, 46); Assert.InRange(box.Value.Y + box.Value.Height, 45, 48);

        var cropped = Render(new ImagePipeline(new AugmentOptions { Channels = 1, UseBoundingBox = true, Height = 20, Width = 20 }), image, null);
        // After cropping, the digit touches the borders: left column and top rows contain stroke pixels.
        Assert.True(Enumerable.Range(0, 20).Max(y => cropped[y * 20]) > 0.5f, "left column should hold the ring");
        var blank = new ByteImage(1, 16, 16);
        var whole = Render(new ImagePipeline(new AugmentOptions { Channels = 1, UseBoundingBox = true, Height = 8, Width = 8 }), blank, null);
        Assert.All(whole, v => Assert.Equal(0f, v)); // nothing found: the whole (empty) image, no crash
    }

    [Fact]
    public void OutputIsScaledToUnitRangeAndGreyIsRepeatedOnThreeChannels()
    {
        var options = new AugmentOptions { Channels = 3, Height = 48, Width = 48, UseBoundingBox = true, Dilation = true };
        var output = Render(new ImagePipeline(options), DataTestSupport.SyntheticDigit(), null);
        Assert.Equal(3 * 48 * 48, output.Length);
        Assert.InRange(output.Min(), 0f, 0.05f);
        Assert.InRange(output.Max(), 0.85f, 1f);
        Assert.Equal(output.AsSpan(0, 2304).ToArray(), output.AsSpan(2304, 2304).ToArray());
        Assert.Equal(output.AsSpan(0, 2304).ToArray(), output.AsSpan(4608, 2304).ToArray());
    }

    [Fact]
    public void DilationAndOpeningChangeStrokeArea()
    {
        var image = DataTestSupport.SyntheticDigit(60, 60);
        float Ink(AugmentOptions o) => Render(new ImagePipeline(o), image, null).Sum();
        float plain = Ink(new() { Channels = 1, Height = 60, Width = 60 });
        Assert.True(Ink(new() { Channels = 1, Height = 60, Width = 60, Dilation = true }) > plain * 1.5f);
        Assert.True(Ink(new() { Channels = 1, Height = 60, Width = 60, Opening = true }) < plain * 0.5f); // 3 px strokes vanish under a 5x5 opening
    }

    [Fact]
    public void AugmentationIsReproducibleFromItsSeedAndDiffersAcrossSeeds()
    {
        var options = new AugmentOptions { Channels = 1, Height = 48, Width = 48, UseBoundingBox = true, Augment = true, ContourCutoutProbability = 1, ContourCutoutNumber = 6 };
        var pipeline = new ImagePipeline(options);
        var image = DataTestSupport.SyntheticDigit(100, 100);
        var plain = Render(pipeline, image, null);
        var first = Render(pipeline, image, new Rng(1));
        Assert.Equal(first, Render(pipeline, image, new Rng(1)));
        int differing = Enumerable.Range(2, 6).Count(seed => !Render(pipeline, image, new Rng((ulong)seed)).SequenceEqual(first));
        Assert.Equal(6, differing);
        Assert.Contains(Enumerable.Range(1, 8), seed => !Render(pipeline, image, new Rng((ulong)seed)).SequenceEqual(plain));
    }
}
