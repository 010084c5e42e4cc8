using StbImageSharp;

namespace Ongko.Tests.Visuals;

/// <summary>Decodes written PNGs with an independent decoder (StbImageSharp) and gives temporary folders.</summary>
static class PngTestHelpers
{
    public static ImageResult Decode(string path, ColorComponents components = ColorComponents.RedGreenBlue)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 8 && bytes[0] == 0x89 && bytes[1] == (byte)'P' && bytes[2] == (byte)'N' && bytes[3] == (byte)'G', $"{path} is not a PNG");
        return ImageResult.FromMemory(bytes, components);
    }

    /// <summary>Number of distinct RGB colours in a decoded RGB image.</summary>
    public static int DistinctColours(ImageResult image)
    {
        var colours = new HashSet<int>();
        for (int i = 0; i + 2 < image.Data.Length; i += 3) colours.Add(image.Data[i] << 16 | image.Data[i + 1] << 8 | image.Data[i + 2]);
        return colours.Count;
    }

    /// <summary>Pixels within <paramref name="tolerance"/> of an RGB colour.</summary>
    public static int CountNear(ImageResult image, byte r, byte g, byte b, int tolerance)
    {
        int count = 0;
        for (int i = 0; i + 2 < image.Data.Length; i += 3)
            if (Math.Abs(image.Data[i] - r) <= tolerance && Math.Abs(image.Data[i + 1] - g) <= tolerance && Math.Abs(image.Data[i + 2] - b) <= tolerance)
                count++;
        return count;
    }

    /// <summary>A fresh folder under the system's temporary folder, removed again by <see cref="TemporaryFolders.Dispose"/>.</summary>
    public static string NewFolder(this TemporaryFolders owner)
    {
        string folder = Path.Combine(Path.GetTempPath(), "ongko-visuals-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        owner.Add(folder);
        return folder;
    }

    public static void AssertNoTemporaryFiles(string folder) =>
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));
}

/// <summary>Base of a test class whose temporary folders are deleted after each test.</summary>
public abstract class TemporaryFolders : IDisposable
{
    readonly List<string> folders = [];

    internal void Add(string folder) { lock (folders) folders.Add(folder); }

    public void Dispose()
    {
        foreach (string folder in folders)
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        GC.SuppressFinalize(this);
    }
}
