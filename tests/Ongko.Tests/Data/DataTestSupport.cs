using Ongko.Data;
using Ongko.Vision;

namespace Ongko.Tests.Data;

/// <summary>Fixture files, scratch folders and the shared real data for the data-pipeline tests.</summary>
public static class DataTestSupport
{
    public static string FixtureDirectory => Path.Combine(AppContext.BaseDirectory, "fixtures", "vision");

    /// <summary>Reads a .u8 array written by make_vision_fixtures.py: shape and bytes.</summary>
    public static (int[] Shape, byte[] Data) ReadU8(string name)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(FixtureDirectory, name + ".u8"));
        Assert.True(bytes.AsSpan(0, 4).SequenceEqual("U8AR"u8), $"{name}: not a U8AR file");
        int rank = BitConverter.ToInt32(bytes, 4);
        var shape = new int[rank];
        for (int d = 0; d < rank; d++) shape[d] = BitConverter.ToInt32(bytes, 8 + 4 * d);
        int offset = 8 + 4 * rank;
        return (shape, bytes.AsSpan(offset).ToArray());
    }

    /// <summary>Cases of one kind from cases.txt: name and key=value parameters.</summary>
    public static IEnumerable<(string Name, Dictionary<string, string> Values)> Cases(string kind)
    {
        foreach (string line in File.ReadAllLines(Path.Combine(FixtureDirectory, "cases.txt")))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || parts[0] != kind) continue;
            yield return (parts[1], parts.Skip(2).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]));
        }
    }

    /// <summary>A fresh empty folder under the temp directory, deleted with the returned handle.</summary>
    public static TempDirectory NewTempFolder() => new();

    /// <summary>The repository's real data folder (shared/data next to the checkout), or null.</summary>
    public static string? SharedData(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "data", name);
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>A white-on-black synthetic digit-like image: a ring with a tail, plus one speck.</summary>
    public static ByteImage SyntheticDigit(int height = 28, int width = 28, bool darkOnLight = false)
    {
        var image = new ByteImage(1, height, width);
        double cy = height * 0.5, cx = width * 0.45, r = Math.Min(height, width) * 0.25;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double d = Math.Sqrt((y - cy) * (y - cy) + (x - cx) * (x - cx));
                bool ring = Math.Abs(d - r) < 1.6;
                bool tail = x >= cx + r - 1 && x <= cx + r + 1 && y >= cy - r - 4 && y <= cy;
                image[0, y, x] = ring || tail ? (byte)230 : (byte)10;
            }
        image[0, 1, width - 2] = 255; // a speck far from the digit
        if (darkOnLight) Threshold.Invert(image.Data);
        return image;
    }
}

/// <summary>A fact that is reported as skipped, with the reason, when a shared data folder is absent.</summary>
public sealed class RealDataFactAttribute : FactAttribute
{
    public RealDataFactAttribute(params string[] folders)
    {
        var missing = folders.Where(f => DataTestSupport.SharedData(f) is null).ToArray();
        if (missing.Length > 0)
            Skip = $"real data not found: no shared/data/{string.Join(", shared/data/", missing)} above {AppContext.BaseDirectory}";
    }
}

/// <summary>A fact that is skipped when a file or folder is absent (e.g. Debian's dataset-fashion-mnist).</summary>
public sealed class PathFactAttribute : FactAttribute
{
    public PathFactAttribute(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) Skip = $"{path} is not installed";
    }
}
