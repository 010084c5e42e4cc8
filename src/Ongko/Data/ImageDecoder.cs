using System.Buffers.Binary;
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
        ImageInfo? info = png ? PngHeader(bytes) : null;
        if (info is null)
        {
            try { info = ImageInfo.FromStream(new MemoryStream(bytes, writable: false)); }
            catch (Exception e) { throw new DataException($"cannot decode the {(png ? "PNG" : "JPEG")} image: its header cannot be read ({e.Message})", name, inner: e); }
        }
        if (info is not { Width: > 0, Height: > 0 } header)
            throw new DataException($"cannot decode the {(png ? "PNG" : "JPEG")} image: its header has no valid width and height", name);
        long pixels = (long)header.Width * header.Height;
        if (pixels > limit)
            throw new DataException($"the image declares {header.Width}x{header.Height} pixels ({pixels:N0}), over the limit of {limit:N0}" +
                                    (limit == InputFiles.MaxImagePixels ? " (set ONGKO_MAX_IMAGE_PIXELS to raise it)" : ""), name);
        return header;
    }

    /// <summary>
    /// What stb_image's header scan reports for a PNG whose first chunk is a well-formed IHDR that it accepts (sizes within its
    /// limits, a valid bit depth and colour type, compression and filter 0, interlace 0 or 1), read straight from the 13 bytes;
    /// null for anything else, which then goes through stb_image's scan and its error messages. stb_image's scan builds a JPEG
    /// decoder first (about 19 KB per call), which costs more than decoding a small digit.
    /// </summary>
    internal static ImageInfo? PngHeader(byte[] bytes)
    {
        ReadOnlySpan<byte> b = bytes;
        if (b.Length < 33 || BinaryPrimitives.ReadUInt32BigEndian(b[8..]) != 13 || !b.Slice(12, 4).SequenceEqual("IHDR"u8)) return null;
        uint width = BinaryPrimitives.ReadUInt32BigEndian(b[16..]), height = BinaryPrimitives.ReadUInt32BigEndian(b[20..]);
        int depth = b[24], colour = b[25];
        if (width is 0 or > 1 << 24 || height is 0 or > 1 << 24 || b[26] != 0 || b[27] != 0 || b[28] > 1) return null;
        // stb: components decoded per pixel (a palette is expanded to RGB), and its "too large" check on them.
        int components;
        switch (colour)
        {
            case 0 when depth is 1 or 2 or 4 or 8 or 16: components = 1; break;
            case 2 when depth is 8 or 16: components = 3; break;
            case 3 when depth is 1 or 2 or 4 or 8: return null;   // palette: stb reads PLTE and tRNS for the count
            case 4 when depth is 8 or 16: components = 2; break;
            case 6 when depth is 8 or 16: components = 4; break;
            default: return null;
        }
        if ((1 << 30) / width / (uint)components < height) return null;
        return new ImageInfo
        {
            Width = (int)width, Height = (int)height, BitsPerChannel = depth == 16 ? 16 : 8,
            ColorComponents = components switch { 1 => ColorComponents.Grey, 2 => ColorComponents.GreyAlpha, 3 => ColorComponents.RedGreenBlue, _ => ColorComponents.RedGreenBlueAlpha },
        };
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
