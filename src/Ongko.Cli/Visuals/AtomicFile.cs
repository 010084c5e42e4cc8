using SkiaSharp;

namespace Ongko.Cli.Visuals;

/// <summary>
/// Writes files the safe way: into a temporary file in the destination folder, then renamed over
/// the destination, so a reader never sees a half-written picture or CSV.
/// </summary>
public static class AtomicFile
{
    /// <summary>Encodes <paramref name="bitmap"/> as PNG and moves it into place at <paramref name="path"/>.</summary>
    public static void WritePng(string path, SKBitmap bitmap, bool durable = true)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"could not encode {path} as PNG");
        WriteAllBytes(path, data.AsSpan(), durable);
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to a temporary sibling of <paramref name="path"/> and renames it into place,
    /// creating the folder if needed. <paramref name="durable"/> also flushes to disk before the rename
    /// (leave it off for thousands of small files).
    /// </summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, bool durable = true)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: durable);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
