using Ongko.Data;
using Ongko.Vision;

namespace Ongko.Tests.Data;

public class LoaderTests
{
    /// <summary>In-memory samples whose pixels encode their index, so batches can be traced back.</summary>
    static List<Sample> IndexedSamples(int count)
    {
        var samples = new List<Sample>();
        for (int i = 0; i < count; i++)
        {
            var image = new ByteImage(1, 4, 4);
            image.Data.AsSpan().Fill((byte)(i % 251));
            image.Data[0] = (byte)(i / 251);
            samples.Add(new Sample(image, i % 10, "s", $"m#{i}"));
        }
        return samples;
    }

    static readonly AugmentOptions Plain = new() { Channels = 1, Height = 4, Width = 4, Reverse = ReverseMode.Off };

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void EveryEpochVisitsEverySampleExactlyOnceInASeededOrder(int prefetch)
    {
        var samples = IndexedSamples(1003);
        var loader = new DataLoader(samples, Plain, batchSize: 64, shuffle: true, train: false, seed: 9, prefetch: prefetch);
        var seen = new List<int>();
        foreach (var batch in loader.Epoch(3))
        {
            Assert.Equal(batch.Count, batch.Labels.Length);
            Assert.Equal([batch.Count, 1, 4, 4], batch.Images.ShapeArray);
            for (int k = 0; k < batch.Count; k++)
            {
                int index = batch.SampleIndices[k];
                Assert.Equal(samples[index].Label, batch.Labels[k]);
                Assert.Equal((index % 251) / 255f, batch.Images.Data[k * 16 + 5], 5);
                seen.Add(index);
            }
        }
        Assert.Equal(Enumerable.Range(0, 1003), seen.Order());
        Assert.Equal(16, loader.BatchCount);
        Assert.Equal(loader.Order(3), seen);                    // the order is a function of (seed, epoch)
        Assert.NotEqual(loader.Order(3), loader.Order(4));
        Assert.Equal(loader.Order(3), new DataLoader(samples, Plain, 64, true, false, seed: 9).Order(3));
        Assert.NotEqual(Enumerable.Range(0, 1003), seen);
    }

    [Fact]
    public void TrainingBatchesAreReproducibleWhateverTheScheduling()
    {
        var samples = Enumerable.Range(0, 40).Select(i => new Sample(DataTestSupport.SyntheticDigit(28, 28, darkOnLight: i % 2 == 0), i % 10, "s", $"d{i}")).ToList();
        var options = new AugmentOptions { Channels = 3, Height = 24, Width = 24, UseBoundingBox = true, Augment = true, Mixup = 0.5, ContourCutoutProbability = 0.5, ContourCutoutNumber = 4, Cache = true };
        float[] Run(int prefetch, ulong seed, bool cache)
        {
            var o = options.Clone(); o.Cache = cache;
            var loader = new DataLoader(samples, o, batchSize: 8, shuffle: true, train: true, seed: seed, prefetch: prefetch);
            var all = new List<float>();
            foreach (var _ in loader.Epoch(0)) { } // warm the cache, different epoch
            foreach (var batch in loader.Epoch(1))
            {
                all.AddRange(batch.Images.Span.ToArray());
                if (batch.SoftTargets is { } targets)
                {
                    for (int k = 0; k < batch.Count; k++)
                        Assert.Equal(1.0, targets.Span.Slice(k * 10, 10).ToArray().Sum(), 5);
                    all.AddRange(targets.Span.ToArray());
                }
            }
            return all.ToArray();
        }
        var reference = Run(2, 5, cache: true);
        Assert.Equal(reference, Run(0, 5, cache: false));
        Assert.Equal(reference, Run(1, 5, cache: true));
        Assert.NotEqual(reference, Run(2, 6, cache: true));
    }

    [Fact]
    public void MixupHappensAtTheConfiguredRate()
    {
        var samples = IndexedSamples(400);
        var options = Plain.Clone(); options.Mixup = 0.5;
        var loader = new DataLoader(samples, options, batchSize: 4, shuffle: true, train: true, seed: 1);
        int mixed = loader.Epoch(0).Count(b => b.SoftTargets is not null);
        Assert.InRange(mixed, 30, 70);
        Assert.All(new DataLoader(samples, options, 4, true, train: false, seed: 1).Epoch(0), b => Assert.Null(b.SoftTargets));
    }

    [Fact]
    public void BadImagesAreSkippedAndCountedOrFailWithTheFileName()
    {
        using var temp = DataTestSupport.NewTempFolder();
        byte[] png = File.ReadAllBytes(Path.Combine(DataTestSupport.FixtureDirectory, "grey8.png"));
        var samples = new List<Sample>();
        for (int i = 0; i < 10; i++)
        {
            string path = temp[$"i{i}.png"];
            File.WriteAllBytes(path, i is 3 or 7 ? png.AsSpan(0, 30).ToArray() : png);
            samples.Add(new Sample(path, i, "s"));
        }
        var options = new AugmentOptions { Channels = 1, Height = 8, Width = 8 };
        var loader = new DataLoader(samples, options, batchSize: 4, shuffle: false, train: false, seed: 0);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var batches = loader.Epoch(epoch).Select(b => b.SampleIndices.ToArray()).ToList();
            Assert.Equal([0, 1, 2, 4, 5, 6, 8, 9], batches.SelectMany(b => b));
            Assert.Equal(2, loader.SkippedCount);
        }
        Assert.Contains(loader.SkippedMessages, m => m.Contains("i3.png") && m.Contains("truncated"));

        options.OnBadImage = BadImagePolicy.Fail;
        var failing = new DataLoader(samples, options, batchSize: 4, shuffle: false, train: false, seed: 0);
        var error = Assert.Throws<DataException>(() => failing.Epoch(0).ToList());
        Assert.Contains("i3.png", error.Message);
    }

    [Fact]
    public void StoppingEarlyDoesNotHangAndTheCacheHoldsBytes()
    {
        var samples = IndexedSamples(300);
        var options = Plain.Clone(); options.Height = 16; options.Width = 16; options.Cache = true;
        var loader = new DataLoader(samples, options, batchSize: 10, shuffle: true, train: true, seed: 2);
        Assert.Single(loader.Epoch(0).Take(1));
        foreach (var _ in loader.Epoch(1)) { }
        // One byte per pixel, not four: the 4x4 images are kept as they are (upscaled when rendered), plus a small entry each.
        Assert.InRange(loader.CacheBytes, 300 * 4 * 4, 300 * 4 * 4 + 300 * 32);
    }
}
