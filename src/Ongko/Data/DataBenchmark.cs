using System.Diagnostics;

namespace Ongko.Data;

/// <summary>Result of <see cref="DataBenchmark.Measure"/>.</summary>
public sealed record DataBenchmarkResult(double ImagesPerSecond, long Images, double Seconds, double WarmupSeconds, int Skipped, long CacheBytes)
{
    public override string ToString()
        => $"{ImagesPerSecond:F0} images/s ({Images} images in {Seconds:F2} s from the cache; cache filled in {WarmupSeconds:F2} s, {CacheBytes / 1024.0 / 1024.0:F1} MiB; {Skipped} skipped)";
}

/// <summary>Throughput of the training data path (preprocessing + augmentation + batching), for <c>ongko bench --data</c>.</summary>
public static class DataBenchmark
{
    /// <summary>model3's input: 3x48x48, bounding-box crop, reverse auto, rotation/blur and mixup 0.5, cache on.</summary>
    public static AugmentOptions Model3Options() => new()
    {
        Height = 48, Width = 48, Channels = 3, UseBoundingBox = true, Reverse = ReverseMode.Auto,
        Augment = true, Mixup = 0.5, Cache = true,
    };

    /// <summary>
    /// Fills the cache with one untimed epoch, then times whole training epochs (shuffled, augmented,
    /// the loader's own parallelism and prefetch) for at least <paramref name="seconds"/>; the consumer
    /// only touches each batch. Returns images per second from the cache.
    /// </summary>
    public static DataBenchmarkResult Measure(IReadOnlyList<Sample> samples, AugmentOptions? options = null, int batchSize = 128,
                                              double seconds = 3.0, ulong seed = 1)
    {
        options = (options ?? Model3Options()).Clone();
        options.Cache = true;
        var loader = new DataLoader(samples, options, batchSize, shuffle: true, train: true, seed);
        var clock = Stopwatch.StartNew();
        float sink = 0;
        foreach (var batch in loader.Epoch(0)) sink += batch.Images.Data[0];
        double warmup = clock.Elapsed.TotalSeconds;

        long images = 0;
        clock.Restart();
        for (int epoch = 1; clock.Elapsed.TotalSeconds < seconds; epoch++)
            foreach (var batch in loader.Epoch(epoch))
            {
                images += batch.Count;
                sink += batch.Images.Data[0];
                if (clock.Elapsed.TotalSeconds >= seconds) break;
            }
        double elapsed = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(sink);
        return new DataBenchmarkResult(images / elapsed, images, elapsed, warmup, loader.SkippedCount, loader.CacheBytes);
    }
}
