using Ongko.Data;
using Ongko.Vision;

namespace Ongko.Tests.Data;

/// <summary>The compact cache gives exactly the batches the uncached pipeline gives, for every kind of prepared image.</summary>
public class CacheLayoutTests
{
    static List<Sample> Digits(int count, int channels = 1) => Enumerable.Range(0, count).Select(i =>
    {
        int size = 20 + i % 13;  // digit crops of many sizes
        var grey = DataTestSupport.SyntheticDigit(size, size + i % 5, darkOnLight: i % 3 == 0);
        ByteImage image = grey;
        if (channels == 3)
        {
            image = new ByteImage(3, grey.Height, grey.Width);
            for (int c = 0; c < 3; c++) grey.Data.AsSpan().CopyTo(image.Plane(c));
            image.Plane(1)[5] = 99;  // the planes differ a little
        }
        return new Sample(image, i % 10, "s", $"d{i}");
    }).ToList();

    /// <summary>model3-like: 48x48 output from smaller crops (kept as crops, resized when rendered).</summary>
    static AugmentOptions Upscaled() => new() { Channels = 3, Height = 48, Width = 48, UseBoundingBox = true, Dilation = true, Augment = true };

    public static TheoryData<string> Layouts() => ["upscaled", "final", "digit", "cutout", "colour", "appearance"];

    static (AugmentOptions Options, List<Sample> Samples) Layout(string name) => name switch
    {
        "upscaled" => (Upscaled(), Digits(60)),
        "final" => (new AugmentOptions { Channels = 1, Height = 16, Width = 16, UseBoundingBox = true, Reverse = ReverseMode.Auto, Augment = true, Mixup = 0.5 }, Digits(60)),
        "digit" => (new AugmentOptions { Channels = 1, Height = 28, Width = 28, Normalize = NormalizeMode.Digit,
                                         Affine = AffineOptions.Symmetric(degrees: 10, translate: 0.1) }, Digits(60)),
        "cutout" => (new AugmentOptions { Channels = 1, Height = 24, Width = 24, UseBoundingBox = true, ContourCutoutProbability = 0.7, ContourCutoutNumber = 3 }, Digits(60)),
        "colour" => (Upscaled(), Digits(60, channels: 3)),
        _ => (new AugmentOptions { Channels = 1, Height = 40, Width = 40, UseBoundingBox = true, StrokeProbability = 0.5, BlurProbability = 0.5,
                                   PhotometricProbability = 0.5, Noise = 0.05 }, Digits(60)),
    };

    static float[] Epochs(List<Sample> samples, AugmentOptions options, bool cache, bool train)
    {
        var o = options.Clone();
        o.Cache = cache;
        var loader = new DataLoader(samples, o, batchSize: 16, shuffle: true, train: train, seed: 3);
        var all = new List<float>();
        for (int epoch = 0; epoch < 3; epoch++)   // epoch 0 fills the cache, 1 and 2 read it
            foreach (var batch in loader.Epoch(epoch))
            {
                all.AddRange(batch.Images.Span.ToArray());
                if (batch.SoftTargets is { } soft) all.AddRange(soft.Span.ToArray());
            }
        return all.ToArray();
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void CachedBatchesEqualTheUncachedOnesBitwise(string layout)
    {
        var (options, samples) = Layout(layout);
        foreach (bool train in new[] { true, false })
        {
            var uncached = Epochs(samples, options, cache: false, train);
            Assert.Equal(uncached, Epochs(samples, options, cache: true, train));
            Assert.Contains(uncached, v => v > 0.5f);
        }
    }

    /// <summary>48x48 inputs from crops of at most 32x36: the cache holds the crops, well under the 48x48 pixels.</summary>
    [Fact]
    public void SmallCropsAreKeptInsteadOfTheirUpscaledImages()
    {
        var samples = Digits(2000);
        var loader = new DataLoader(samples, Upscaled(), batchSize: 256, shuffle: false, train: false, seed: 1);
        foreach (var _ in loader.Epoch(0)) { }
        long upscaled = samples.Count * 48L * 48;
        long crops = samples.Sum(s => (long)s.Image!.Height * s.Image.Width);
        Assert.InRange(loader.CacheBytes, crops / 4, crops + samples.Count * 32L);
        Assert.True(loader.CacheBytes < upscaled / 2, $"{loader.CacheBytes} bytes for {samples.Count} images");
    }

    /// <summary>Final images (the output size: numta28's 28x28, normalize: digit) cost their pixels and a small entry, no object each.</summary>
    [Theory]
    [InlineData("final")]
    [InlineData("digit")]
    public void FinalImagesCostTheirPixels(string layout)
    {
        var (options, samples) = Layout(layout);
        var loader = new DataLoader(samples, options, batchSize: 16, shuffle: false, train: false, seed: 1);
        foreach (var _ in loader.Epoch(0)) { }
        long pixels = samples.Count * (long)options.Height * options.Width;
        Assert.InRange(loader.CacheBytes, pixels, pixels + samples.Count * 32L);
    }

    /// <summary>Images larger than a 1 MiB block each get a block of their own and still come back right.</summary>
    [Fact]
    public void ImagesLargerThanABlockAreCached()
    {
        var samples = Enumerable.Range(0, 6).Select(i => new Sample(DataTestSupport.SyntheticDigit(600 + 10 * i, 640), i, "s", $"big{i}")).ToList();
        var options = new AugmentOptions { Channels = 3, Height = 640, Width = 600, Reverse = ReverseMode.Off };
        var uncached = Epochs(samples, options, cache: false, train: false);
        Assert.Equal(uncached, Epochs(samples, options, cache: true, train: false));
    }
}
