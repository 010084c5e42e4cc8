using Ongko.Vision;
using StbImageSharp;

namespace Ongko.Data;

/// <summary>
/// Decodes PNG (8- and 16-bit grey, grey+alpha, RGB, RGBA, palette) and JPEG into planar byte images.
/// Built on StbImageSharp: a dependency-free, fully managed port of stb_image with no known
/// vulnerabilities (SixLabors.ImageSharp 2.x carries published advisories and 3.x has a split licence).
/// 16-bit samples keep their high byte and alpha is dropped, as OpenCV's imread does.
/// </summary>
public static class ImageDecoder
{
    static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Reads and decodes a file into exactly <paramref name="channels"/> (1 or 3) planes.</summary>
    public static ByteImage Decode(string path, int channels) => Decode(ReadFile(path), channels, path, compact: false);

    /// <summary>
    /// Decodes into at most <paramref name="maxChannels"/> planes: a grey source stays one plane (the
    /// loader repeats it at the end), a colour source gets three when asked for three.
    /// </summary>
    public static ByteImage DecodeCompact(string path, int maxChannels) => Decode(ReadFile(path), maxChannels, path, compact: true);

    /// <summary>
    /// Checks that bytes are a PNG or JPEG whose header declares at most <paramref name="maxPixels"/> pixels
    /// (default <see cref="InputFiles.MaxImagePixels"/>) and returns its width and height, without decoding.
    /// </summary>
    public static (int Width, int Height) ReadSize(byte[] bytes, string name = "image", long? maxPixels = null)
    {
        var info = CheckHeader(bytes, name, maxPixels, out _);
        return (info.Width, info.Height);
    }

    /// <summary>Decodes bytes; <paramref name="name"/> is used in error messages; <paramref name="maxPixels"/> as in <see cref="ReadSize"/>.</summary>
    public static ByteImage Decode(byte[] bytes, int channels, string name = "image", bool compact = false, long? maxPixels = null)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"channels must be 1 or 3, got {channels}", nameof(channels));
        var info = CheckHeader(bytes, name, maxPixels, out bool png);
        ImageResult result;
        try
        {
            int wanted = channels;
            if (compact && channels == 3 && info.ColorComponents is ColorComponents.Grey or ColorComponents.GreyAlpha) wanted = 1;
            result = ImageResult.FromMemory(bytes, wanted == 1 ? ColorComponents.Grey : ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is not DataException)
        {
            throw new DataException($"cannot decode the {(png ? "PNG" : "JPEG")} image ({e.Message})", name, inner: e);
        }
        if (result is null || result.Data is null || result.Width < 1 || result.Height < 1)
            throw new DataException("cannot decode the image", name);

        int planes = result.Comp == ColorComponents.Grey ? 1 : 3;
        var image = new ByteImage(planes, result.Height, result.Width);
        int pixels = result.Width * result.Height;
        if (result.Data.Length < pixels * planes) throw new DataException("the image data is truncated", name);
        if (planes == 1) result.Data.AsSpan(0, pixels).CopyTo(image.Data);
        else
        {
            var data = result.Data;
            Span<byte> r = image.Plane(0), g = image.Plane(1), b = image.Plane(2);
            for (int i = 0; i < pixels; i++) { r[i] = data[3 * i]; g[i] = data[3 * i + 1]; b[i] = data[3 * i + 2]; }
        }
        return image;
    }

    static byte[] ReadFile(string path) => InputFiles.ReadAllBytes(path, InputKind.Image, message => new DataException(message, path));

    static ImageInfo CheckHeader(byte[] bytes, string name, long? maxPixels, out bool png)
    {
        png = bytes.AsSpan().StartsWith(PngSignature);
        bool jpeg = bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
        if (!png && !jpeg)
            throw new DataException(bytes.Length == 0 ? "the file is empty, not an image" : "not a PNG or JPEG image", name);
        if (png && !HasPngEnd(bytes))
            throw new DataException("the PNG file is truncated (no IEND chunk)", name);
        return ReadHeader(bytes, name, png, maxPixels ?? InputFiles.MaxImagePixels);
    }

    /// <summary>Refuses, from the header alone, an image whose width × height is over <paramref name="limit"/>.</summary>
    static ImageInfo ReadHeader(byte[] bytes, string name, bool png, long limit)
    {
        ImageInfo? info;
        try { info = ImageInfo.FromStream(new MemoryStream(bytes, writable: false)); }
        catch (Exception e) { throw new DataException($"cannot decode the {(png ? "PNG" : "JPEG")} image: its header cannot be read ({e.Message})", name, inner: e); }
        if (info is not { Width: > 0, Height: > 0 } header)
            throw new DataException($"cannot decode the {(png ? "PNG" : "JPEG")} image: its header has no valid width and height", name);
        long pixels = (long)header.Width * header.Height;
        if (pixels > limit)
            throw new DataException($"the image declares {header.Width}x{header.Height} pixels ({pixels:N0}), over the limit of {limit:N0}" +
                                    (limit == InputFiles.MaxImagePixels ? " (set ONGKO_MAX_IMAGE_PIXELS to raise it)" : ""), name);
        return header;
    }

    // stb_image decodes whatever IDAT data arrives and may return a partial image for a cut-off file;
    // a PNG that does not end in an IEND chunk is reported as truncated instead.
    static bool HasPngEnd(byte[] bytes)
    {
        ReadOnlySpan<byte> iend = "IEND"u8;
        int from = Math.Max(8, bytes.Length - 64);
        return bytes.AsSpan(from).IndexOf(iend) >= 0;
    }
}
