using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace Ongko.Tests.Hostile;

/// <summary>Makers of hostile inputs (pipes, crafted image headers) and a guard that turns a hang into a failure.</summary>
public static class HostileFiles
{
    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    static extern int MkFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    /// <summary>Makes a named pipe (Linux), or returns false where that is not possible.</summary>
    public static bool TryMakeFifo(string path) => OperatingSystem.IsLinux() && MkFifo(path, 0b110_000_000) == 0;

    /// <summary>
    /// Runs <paramref name="read"/> and returns what it threw (or null). If it has not finished in 20 seconds the
    /// test fails; a pipe it may be blocked on is then opened for writing, which releases the reader.
    /// </summary>
    public static Exception? ThrownWithin(Action read, string? fifo = null)
    {
        var task = Task.Factory.StartNew(() => { try { read(); return null; } catch (Exception e) { return e; } },
                                         CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (task.Wait(TimeSpan.FromSeconds(20))) return task.Result;
        if (fifo is not null) { using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write); }
        Assert.Fail($"reading {fifo ?? "the file"} did not finish in 20 seconds (it blocked)");
        return null;
    }

    /// <summary>A PNG whose header declares width x height grey pixels, with one tiny IDAT and IEND: a few dozen bytes.</summary>
    public static byte[] PngDeclaring(int width, int height)
    {
        var file = new MemoryStream();
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;  // bit depth; colour type 0 (grey), no interlace
        Chunk(file, "IHDR", ihdr);
        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) zlib.Write(new byte[1024]);
        Chunk(file, "IDAT", compressed.ToArray());
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    static void Chunk(Stream file, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        file.Write(length);
        file.Write(Encoding.ASCII.GetBytes(type));
        file.Write(data);
        file.Write([0, 0, 0, 0]);  // CRC: stb_image does not check it
    }

    /// <summary>A baseline JPEG header (SOI, one quantisation table, SOF0) declaring width x height grey pixels, then EOI.</summary>
    public static byte[] JpegDeclaring(int width, int height)
    {
        var file = new List<byte> { 0xFF, 0xD8 };
        file.AddRange([0xFF, 0xDB, 0x00, 0x43, 0x00]);
        file.AddRange(Enumerable.Repeat((byte)1, 64));
        file.AddRange([0xFF, 0xC0, 0x00, 0x0B, 0x08, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 0x01, 0x01, 0x11, 0x00]);
        file.AddRange([0xFF, 0xD9]);
        return file.ToArray();
    }
}
