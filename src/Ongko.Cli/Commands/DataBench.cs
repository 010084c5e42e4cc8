using System.Text.Json;
using Ongko.Data;

namespace Ongko.Cli.Commands;

/// <summary><c>ongko bench --data</c>: the loader's preprocessing + augmentation images/s for model3's 3x48x48 input, from the cache.</summary>
public static class DataBench
{
    public static int Run(string dataDir, double seconds, bool json, TextWriter output)
    {
        var samples = NumtaDbReader.Read(dataDir);
        if (!json) output.WriteLine($"Data pipeline on {samples.Count:#,0} images from {dataDir}: 3x48x48, bbox crop, reverse auto, rotation/blur, mixup 0.5, cache on");
        var result = DataBenchmark.Measure(samples, DataBenchmark.Model3Options(), 128, seconds);
        if (json) output.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        else
        {
            output.WriteLine($"  cache fill (decode + prepare, first epoch)  {result.WarmupSeconds,8:F1} s  ({samples.Count / result.WarmupSeconds:F0} images/s)");
            output.WriteLine($"  from the cache (crop, resize, augment)      {result.ImagesPerSecond,8:F0} images/s");
            output.WriteLine($"  cache size                                   {result.CacheBytes / 1048576.0,8:F1} MB");
            if (result.Skipped > 0) output.WriteLine($"  skipped unreadable images: {result.Skipped}");
        }
        return 0;
    }
}
