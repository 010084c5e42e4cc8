using Ongko.Serialization;
using SkiaSharp;

namespace Ongko.Cli.Visuals;

/// <summary>Encodes a bitmap as PNG and writes it through the library's temporary-file-and-rename.</summary>
public static class PngFile
{
    public static void Write(string path, SKBitmap bitmap, bool durable = true)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException($"could not encode {path} as PNG");
        AtomicFile.WriteAllBytes(path, data.AsSpan(), durable);
    }
}
