using SkiaSharp;

namespace Ongko.Cli.Visuals;

/// <summary>
/// A PNG grid of sample images, each scaled up (nearest neighbour) to be visible and captioned
/// with its label: the picture of what the network actually sees (the reference's dataset.png).
/// </summary>
public static class ImageGrid
{
    /// <summary>Smallest on-screen size of one image, in pixels; small images are scaled up by a whole factor to reach it.</summary>
    public const int MinimumCellSize = 96;

    const int Margin = 6;
    const int CaptionHeight = 20;
    const float CaptionTextSize = 14f;

    /// <summary>
    /// Writes the grid to <paramref name="path"/> (atomically).
    /// Each item's <c>Pixels</c> are channel-major (CHW) values in [0, 1] (clamped); 1 channel is drawn
    /// as grey, 3 as RGB, any other count shows its first channel.
    /// </summary>
    public static void Write(string path, IReadOnlyList<(float[] Pixels, int Channels, int Height, int Width, string Label)> items, int columns)
    {
        using var bitmap = Render(items, columns);
        PngFile.Write(path, bitmap);
    }

    /// <summary>Draws the grid into a new bitmap (the caller disposes it).</summary>
    public static SKBitmap Render(IReadOnlyList<(float[] Pixels, int Channels, int Height, int Width, string Label)> items, int columns)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) throw new ArgumentException("the grid needs at least one image", nameof(items));
        if (columns <= 0) throw new ArgumentOutOfRangeException(nameof(columns), columns, "columns must be positive");
        int maxHeight = 0, maxWidth = 0;
        foreach (var item in items)
        {
            if (item.Channels <= 0 || item.Height <= 0 || item.Width <= 0)
                throw new ArgumentException($"image '{item.Label}' has shape {item.Channels}x{item.Height}x{item.Width}", nameof(items));
            if (item.Pixels is null || item.Pixels.Length < item.Channels * item.Height * item.Width)
                throw new ArgumentException($"image '{item.Label}' has {item.Pixels?.Length ?? 0} values, shape {item.Channels}x{item.Height}x{item.Width} needs {item.Channels * item.Height * item.Width}", nameof(items));
            maxHeight = Math.Max(maxHeight, item.Height);
            maxWidth = Math.Max(maxWidth, item.Width);
        }

        int scale = Math.Max(1, (MinimumCellSize + Math.Max(maxHeight, maxWidth) - 1) / Math.Max(maxHeight, maxWidth));
        int cellWidth = maxWidth * scale, cellHeight = maxHeight * scale;
        columns = Math.Min(columns, items.Count);
        int rows = (items.Count + columns - 1) / columns;
        int width = Margin + columns * (cellWidth + Margin);
        int height = Margin + rows * (cellHeight + CaptionHeight + Margin);

        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(new SKColor(236, 236, 236));
        using var font = new SKFont(VisualFonts.Typeface, CaptionTextSize) { Edging = SKFontEdging.Antialias };
        using var textPaint = new SKPaint { Color = new SKColor(20, 20, 20), IsAntialias = true };
        using var framePaint = new SKPaint { Color = new SKColor(160, 160, 160), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        var nearest = new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None);

        for (int index = 0; index < items.Count; index++)
        {
            var item = items[index];
            int x = Margin + (index % columns) * (cellWidth + Margin);
            int y = Margin + (index / columns) * (cellHeight + CaptionHeight + Margin);
            int drawWidth = item.Width * scale, drawHeight = item.Height * scale;
            var destination = SKRect.Create(x + (cellWidth - drawWidth) / 2, y + (cellHeight - drawHeight) / 2, drawWidth, drawHeight);
            using (var image = ToImage(item.Pixels, item.Channels, item.Height, item.Width))
                canvas.DrawImage(image, destination, nearest);
            canvas.DrawRect(SKRect.Create(destination.Left - 0.5f, destination.Top - 0.5f, destination.Width + 1, destination.Height + 1), framePaint);
            string label = Fit(item.Label ?? "", font, cellWidth);
            canvas.DrawText(label, x + cellWidth / 2f, y + cellHeight + CaptionHeight - 5, SKTextAlign.Center, font, textPaint);
        }
        canvas.Flush();
        return bitmap;
    }

    /// <summary>Shortens a caption with an ellipsis until it fits the cell.</summary>
    static string Fit(string label, SKFont font, float width)
    {
        if (font.MeasureText(label) <= width) return label;
        for (int length = label.Length - 1; length > 0; length--)
        {
            string candidate = label[..length] + "…";
            if (font.MeasureText(candidate) <= width) return candidate;
        }
        return "…";
    }

    /// <summary>CHW floats in [0, 1] to an opaque RGBA image.</summary>
    static SKImage ToImage(float[] pixels, int channels, int height, int width)
    {
        int plane = height * width;
        var rgba = new byte[plane * 4];
        for (int i = 0; i < plane; i++)
        {
            byte r = ToByte(pixels[i]);
            byte g = channels >= 3 ? ToByte(pixels[plane + i]) : r;
            byte b = channels >= 3 ? ToByte(pixels[2 * plane + i]) : r;
            rgba[4 * i] = r; rgba[4 * i + 1] = g; rgba[4 * i + 2] = b; rgba[4 * i + 3] = 255;
        }
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var data = SKData.CreateCopy(rgba);
        return SKImage.FromPixels(info, data, width * 4);
    }

    static byte ToByte(float value) => float.IsNaN(value) ? (byte)0 : (byte)MathF.Round(Math.Clamp(value, 0f, 1f) * 255f);
}
