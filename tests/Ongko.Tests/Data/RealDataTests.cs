using Ongko.Data;
using Xunit.Abstractions;

namespace Ongko.Tests.Data;

/// <summary>Smoke tests on the shared real data; skipped (with the reason) where it is absent.</summary>
public class RealDataTests(ITestOutputHelper output)
{
    [RealDataFact("numtadb28")]
    public void NumtaDb28ReadsSplitsAndLoads()
    {
        string dir = DataTestSupport.SharedData("numtadb28")!;
        var samples = NumtaDbReader.Read(dir);
        Assert.InRange(samples.Count, 40000, 50000);
        Assert.Equal(Enumerable.Range(0, 10), samples.Select(s => s.Label).Distinct().Order());
        Assert.Contains(samples, s => s.Source == "BHDDB");
        var (train, valid) = DataSplit.Stratified(samples, 0.2, seed: 1);
        Assert.InRange(valid.Count / (double)samples.Count, 0.195, 0.205);

        var subset = DataSplit.Subset(valid, 20);
        var options = new AugmentOptions { Height = 48, Width = 48, Channels = 3, UseBoundingBox = true, Reverse = ReverseMode.Auto };
        var loader = new DataLoader(subset, options, batchSize: 64, shuffle: false, train: false, seed: 0);
        double ink = 0; int images = 0, mostlyDark = 0;
        foreach (var batch in loader.Epoch(0))
        {
            images += batch.Count;
            var span = batch.Images.Span;
            for (int i = 0; i < span.Length; i++) ink += span[i];
            // white-on-black after preprocessing: the digit is the light minority of pixels (a tiny, dense digit may fill its box)
            for (int k = 0; k < batch.Count; k++)
                if (Mean(span.Slice(k * 3 * 2304, 2304)) < 0.5) mostlyDark++;
        }
        Assert.Equal(subset.Count, images);
        Assert.Equal(0, loader.SkippedCount);
        Assert.True(mostlyDark >= images * 0.97, $"only {mostlyDark} of {images} images are mostly dark");
        double meanInk = ink / (images * 3 * 2304.0);
        output.WriteLine($"numtadb28: {samples.Count} images, {train.Count} train / {valid.Count} valid; mean ink after bbox crop {meanInk:F3}");
        Assert.InRange(meanInk, 0.08, 0.6); // the crop makes the digit fill the frame
    }

    [RealDataFact("cmaterdb")]
    public void CmaterDbDarkOnLightComesOutLikeNumta()
    {
        string dir = DataTestSupport.SharedData("cmaterdb")!;
        var samples = ImageFolderReader.Read(Path.Combine(dir, "training"), Path.Combine(dir, "training.csv"));
        Assert.Equal(5000, samples.Count);
        var options = new AugmentOptions { Height = 28, Width = 28, Channels = 1, UseBoundingBox = true, Reverse = ReverseMode.Auto };
        var loader = new DataLoader(samples.Take(200).ToList(), options, batchSize: 50, shuffle: false, train: false, seed: 0);
        int lightBackground = samples.Take(200).Count(s =>
        {
            var image = ImageDecoder.Decode(s.Path!, 1);
            return Ongko.Vision.Threshold.HasLightBackground(image.Data, image.Height, image.Width);
        });
        Assert.Equal(200, lightBackground); // reverse: auto must invert every CMATERdb image
        int dark = 0, total = 0;
        foreach (var batch in loader.Epoch(0))
            for (int k = 0; k < batch.Count; k++, total++)
                if (Mean(batch.Images.Span.Slice(k * 784, 784)) < 0.45 && batch.Images.Span.Slice(k * 784, 784).ToArray().Max() > 0.7f) dark++;
        Assert.True(dark == total, $"{dark} of {total} images came out light digit on dark background");
    }

    static double Mean(ReadOnlySpan<float> values) { double sum = 0; foreach (float v in values) sum += v; return sum / values.Length; }

    [RealDataFact("numtadb28")]
    public void DataBenchmarkRunsOnRealImages()
    {
        var samples = DataSplit.Subset(NumtaDbReader.Read(DataTestSupport.SharedData("numtadb28")!), 40);
        var result = DataBenchmark.Measure(samples, seconds: 0.5);
        output.WriteLine(result.ToString());
        // Behaviour, not speed (speed targets live in `ongko bench --data`): augmented batches came out of the cache.
        Assert.True(result.Images > 0 && result.ImagesPerSecond > 0 && result.CacheBytes > 0, result.ToString());
        Assert.Equal(0, result.Skipped);
    }
}
