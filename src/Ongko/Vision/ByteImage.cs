namespace Ongko.Vision;

/// <summary>
/// An 8-bit image stored planar (channel, row, column), so every operation here works on one
/// contiguous plane at a time. One channel for grey images, three (R, G, B) for colour.
/// </summary>
public sealed class ByteImage
{
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    /// <summary>Channels x Height x Width bytes, plane after plane.</summary>
    public byte[] Data { get; }

    public ByteImage(int channels, int height, int width)
        : this(channels, height, width, new byte[checked(channels * height * width)]) { }

    public ByteImage(int channels, int height, int width, byte[] data)
    {
        if (channels < 1 || height < 1 || width < 1)
            throw new ArgumentException($"image shape {channels}x{height}x{width} is empty");
        if (data.Length < channels * height * width)
            throw new ArgumentException($"{data.Length} bytes cannot hold a {channels}x{height}x{width} image");
        Channels = channels; Height = height; Width = width; Data = data;
    }

    public int PlaneSize => Height * Width;
    public Span<byte> Plane(int channel) => Data.AsSpan(channel * PlaneSize, PlaneSize);
    public byte this[int channel, int y, int x] { get => Data[(channel * Height + y) * Width + x]; set => Data[(channel * Height + y) * Width + x] = value; }

    /// <summary>A network input in [0, 1], [channels, height, width], back to bytes (a copy).</summary>
    public static ByteImage FromUnitFloats(ReadOnlySpan<float> values, int channels, int height, int width)
    {
        var image = new ByteImage(channels, height, width);
        for (int i = 0; i < image.Data.Length; i++) image.Data[i] = (byte)Math.Clamp(MathF.Round(values[i] * 255f), 0f, 255f);
        return image;
    }

    public ByteImage Clone() => new(Channels, Height, Width, Data.AsSpan(0, Channels * PlaneSize).ToArray());

    /// <summary>The luma plane (OpenCV's RGB-to-grey weights) of a colour image, or a copy of the only plane.</summary>
    public byte[] ToGrey()
    {
        var grey = new byte[PlaneSize];
        if (Channels == 1) { Plane(0).CopyTo(grey); return grey; }
        ReadOnlySpan<byte> r = Plane(0), g = Plane(1), b = Plane(2);
        for (int i = 0; i < grey.Length; i++)
            grey[i] = (byte)((r[i] * 4899 + g[i] * 9617 + b[i] * 1868 + 8192) >> 14);
        return grey;
    }

    /// <summary>The sub-image of rows [y, y+height) and columns [x, x+width), all channels.</summary>
    public ByteImage Crop(PixelBox box)
    {
        var result = new ByteImage(Channels, box.Height, box.Width);
        for (int c = 0; c < Channels; c++)
        {
            var source = Plane(c);
            var target = result.Plane(c);
            for (int row = 0; row < box.Height; row++)
                source.Slice((box.Y + row) * Width + box.X, box.Width).CopyTo(target.Slice(row * box.Width, box.Width));
        }
        return result;
    }
}

/// <summary>An axis-aligned pixel rectangle: columns [X, X+Width), rows [Y, Y+Height).</summary>
public readonly record struct PixelBox(int X, int Y, int Width, int Height)
{
    public bool IsEmpty => Width <= 0 || Height <= 0;

    /// <summary>Grown by <paramref name="margin"/> pixels on every side, clipped to an image of the given size.</summary>
    public PixelBox Grow(int margin, int imageHeight, int imageWidth)
    {
        int x0 = Math.Max(0, X - margin), y0 = Math.Max(0, Y - margin);
        int x1 = Math.Min(imageWidth, X + Width + margin), y1 = Math.Min(imageHeight, Y + Height + margin);
        return new PixelBox(x0, y0, x1 - x0, y1 - y0);
    }
}
