using System.Buffers.Binary;
using System.IO.Compression;

namespace Ongko.Vision;

/// <summary>A minimal PNG encoder for small pictures (the model's input): 8-bit grey or RGB, no filtering.</summary>
public static class PngWriter
{
    /// <summary>A one-plane image as grey, a three-plane image as RGB (planar in, interleaved out).</summary>
    public static byte[] Encode(ByteImage image)
    {
        if (image.Channels is not (1 or 3)) throw new ArgumentException($"PNG of {image.Channels} channels", nameof(image));
        int width = image.Width, height = image.Height, channels = image.Channels;
        var raw = new byte[height * (1 + width * channels)];
        for (int y = 0, at = 0; y < height; y++)
        {
            raw[at++] = 0; // filter: none
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++) raw[at++] = image[c, y, x];
        }
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) zlib.Write(raw);

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;                                 // bit depth
        header[9] = (byte)(channels == 1 ? 0 : 2);     // colour type: grey or RGB
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>"data:image/png;base64,..." for an &lt;img&gt; source.</summary>
    public static string DataUrl(ByteImage image) => "data:image/png;base64," + Convert.ToBase64String(Encode(image));

    static void Chunk(Stream stream, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        var typed = new byte[4 + data.Length];
        for (int i = 0; i < 4; i++) typed[i] = (byte)type[i];
        data.CopyTo(typed, 4);
        stream.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        stream.Write(word);
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>CRC-32 (ISO 3309, as PNG's chunks use).</summary>
    static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in bytes) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }
}
