using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Ongko.Data;

/// <summary>The kinds of file a user hands Ongko; each has its own size limit.</summary>
public enum InputKind { Image, Csv, Config, Checkpoint, Idx }

/// <summary>
/// The one way user files are read. Only regular files are opened (a symbolic link is followed and its
/// target checked): a FIFO, a device, a socket or a folder is refused with a message before anything
/// is opened, so nothing blocks on a pipe or streams /dev/zero. Each kind has a size limit, checked before
/// reading and enforced while reading (a file that grows is cut off, not followed).
/// Limits come from the environment (ONGKO_MAX_IMAGE_BYTES, ONGKO_MAX_CSV_BYTES, ONGKO_MAX_CONFIG_BYTES,
/// ONGKO_MAX_CHECKPOINT_BYTES, ONGKO_MAX_IDX_BYTES, ONGKO_MAX_IMAGE_PIXELS) or from the defaults below.
/// </summary>
public static class InputFiles
{
    const long MiB = 1 << 20;

    /// <summary>Default byte limit per kind: far above any real digit image, label list, config or digit model.</summary>
    public static long DefaultMaxBytes(InputKind kind) => kind switch
    {
        InputKind.Image => 128 * MiB,
        InputKind.Csv => 256 * MiB,
        InputKind.Config => 4 * MiB,
        InputKind.Checkpoint => 1024 * MiB,
        InputKind.Idx => 1024 * MiB,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Default cap on an image's width × height, read from its header before decoding (40 megapixels).</summary>
    public const long DefaultMaxImagePixels = 40_000_000;

    /// <summary>The byte limit in force for a kind (environment variable, else the default).</summary>
    public static long MaxBytes(InputKind kind) =>
        Environment(VariableName(kind), DefaultMaxBytes(kind), maximum: Array.MaxLength);

    /// <summary>The image pixel limit in force (ONGKO_MAX_IMAGE_PIXELS, else 40 megapixels).</summary>
    public static long MaxImagePixels => Environment("ONGKO_MAX_IMAGE_PIXELS", DefaultMaxImagePixels, maximum: long.MaxValue);

    public static string VariableName(InputKind kind) =>
        (uint)kind < (uint)VariableNames.Length ? VariableNames[(int)kind] : $"ONGKO_MAX_{kind.ToString().ToUpperInvariant()}_BYTES";

    // Made once: every file read looks its limit up.
    static readonly string[] VariableNames = Enum.GetValues<InputKind>().Select(k => $"ONGKO_MAX_{k.ToString().ToUpperInvariant()}_BYTES").ToArray();

    static string Name(InputKind kind) => kind switch
    {
        InputKind.Image => "image file",
        InputKind.Csv => "CSV file",
        InputKind.Config => "config file",
        InputKind.Checkpoint => "checkpoint",
        _ => "IDX file",
    };

    static string Noun(InputKind kind) => (kind is InputKind.Image or InputKind.Idx ? "an " : "a ") + Name(kind);

    const string NotFound = "not found";

    /// <summary>
    /// What is wrong with reading <paramref name="path"/> as a <paramref name="kind"/> file (missing, not a
    /// regular file, too large), or null when it can be read; also returns its size.
    /// </summary>
    public static string? Problem(string path, InputKind kind, out long length, long? maxBytes = null)
    {
        length = 0;
        var (type, size, error) = Stat(path);
        if (error is not null) return error == NotFound ? $"{Name(kind)} not found" : error;
        if (type != FileType.Regular)
            return type == FileType.Directory
                ? $"is a folder, expected {Noun(kind)}"
                : $"is {Describe(type)}, not a regular file; Ongko reads {Noun(kind)} only from a regular file";
        long limit = maxBytes ?? MaxBytes(kind);
        if (size > limit) return TooLarge(size, limit, kind, maxBytes is null);
        length = size;
        return null;
    }

    /// <summary>Reads a whole file after the checks of <see cref="Problem"/>; every failure goes through <paramref name="error"/> (given the message without the path).</summary>
    public static byte[] ReadAllBytes(string path, InputKind kind, Func<string, Exception> error, long? maxBytes = null)
    {
        if (Problem(path, kind, out long length, maxBytes) is { } problem) throw error(problem);
        long limit = maxBytes ?? MaxBytes(kind);
        int expected = (int)Math.Min(length, limit);
        // The size stat gave and one byte more, in one read: a file that has grown since shows in that byte, and only such a
        // file goes through the bounded copy. Small files (digit images) are read through the stack, then copied to their array.
        byte[]? rented = expected < SmallFile ? null : ArrayPool<byte>.Shared.Rent(expected + 1);
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            Span<byte> buffer = rented is null ? stackalloc byte[expected + 1] : rented.AsSpan(0, expected + 1);
            int total = 0, read;
            while (total < buffer.Length && (read = RandomAccess.Read(handle, buffer[total..], total)) > 0)
            {
                total += read;
                if (total == expected) break;   // short of the byte more: the end (a regular file reads in full up to it)
            }
            if (total <= expected) return buffer[..total].ToArray();
            if (total > limit) throw error(TooLarge(total, limit, kind, maxBytes is null, atLeast: true));
            using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 1) { Position = total };
            var rest = ReadBounded(stream, 0, limit - total, kind, error, maxBytes is null, alreadyRead: total);
            return [.. buffer[..total], .. rest];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw error($"cannot read the file ({e.Message})"); }
        finally { if (rented is not null) ArrayPool<byte>.Shared.Return(rented); }
    }

    const int SmallFile = 8192;   // bytes read through a stack buffer

    /// <summary><see cref="ReadAllBytes"/> decoded as UTF-8 (a byte-order mark is dropped); invalid UTF-8 is an error.</summary>
    public static string ReadAllText(string path, InputKind kind, Func<string, Exception> error, long? maxBytes = null)
    {
        byte[] bytes = ReadAllBytes(path, kind, error, maxBytes);
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) span = span[3..];
        try { return Strict.GetString(span); }
        catch (DecoderFallbackException) { throw error("is not UTF-8 text"); }
    }

    /// <summary>Copies at most <paramref name="limit"/> bytes of a stream (e.g. a gzip decoder) into an array; more is an error.</summary>
    public static byte[] ReadBounded(Stream stream, int expected, long limit, InputKind kind, Func<string, Exception> error, bool limitFromEnvironment = true)
        => ReadBounded(stream, expected, limit, kind, error, limitFromEnvironment, alreadyRead: 0);

    /// <param name="alreadyRead">bytes the caller read before (counted in the message, not in <paramref name="limit"/>)</param>
    static byte[] ReadBounded(Stream stream, int expected, long limit, InputKind kind, Func<string, Exception> error, bool limitFromEnvironment, long alreadyRead)
    {
        var buffer = new MemoryStream(Math.Max(expected, 0));
        byte[] chunk = new byte[1 << 16];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > limit)
                throw error(TooLarge(alreadyRead + buffer.Length + read, alreadyRead + limit, kind, limitFromEnvironment, atLeast: true));
            buffer.Write(chunk, 0, read);
        }
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }

    static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    static string TooLarge(long size, long limit, InputKind kind, bool fromEnvironment, bool atLeast = false) =>
        $"{(atLeast ? "more than " : "")}{Bytes(size)} is over the {Bytes(limit)} limit for {Noun(kind)}" +
        (fromEnvironment ? $" (set {VariableName(kind)} to raise it)" : "");

    static string Bytes(long count) => count >= MiB
        ? string.Create(CultureInfo.InvariantCulture, $"{count / (double)MiB:F1} MiB")
        : string.Create(CultureInfo.InvariantCulture, $"{count:N0} bytes");

    static long Environment(string name, long fallback, long maximum)
    {
        string? text = System.Environment.GetEnvironmentVariable(name);
        return text is not null && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value > 0
            ? Math.Min(value, maximum) : fallback;
    }

    enum FileType { Regular, Directory, Fifo, CharacterDevice, BlockDevice, Socket, Other }

    static string Describe(FileType type) => type switch
    {
        FileType.Fifo => "a named pipe (FIFO)",
        FileType.CharacterDevice => "a character device",
        FileType.BlockDevice => "a block device",
        FileType.Socket => "a socket",
        _ => "a special file",
    };

    /// <summary>Type and size of the file a path names, following symbolic links, without opening it.</summary>
    static (FileType Type, long Size, string? Error) Stat(string path)
    {
        if (path.Length == 0) return (FileType.Other, 0, "empty file name");
        if (OperatingSystem.IsLinux() && LinuxStat(path) is { } linux) return linux;
        // Elsewhere: what the base library can tell (folders and sizes; other special files are rare there).
        if (Directory.Exists(path)) return (FileType.Directory, 0, null);
        var info = new FileInfo(path);
        if (!info.Exists) return (FileType.Other, 0, NotFound);
        return (FileType.Regular, info.Length, null);
    }

    // statx(2) has one layout on every Linux architecture: stx_mode (u16) at byte 28, stx_size (u64) at byte 40.
    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    static extern unsafe int StatX(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte* buffer);

    static bool statxMissing;

    static (FileType, long, string?)? LinuxStat(string path)
    {
        if (statxMissing) return null;
        Span<byte> buffer = stackalloc byte[256];
        int result;
        try { unsafe { fixed (byte* pointer = buffer) result = StatX(-100 /* AT_FDCWD */, path, 0, 0x1 | 0x200 /* STATX_TYPE | STATX_SIZE */, pointer); } }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { statxMissing = true; return null; }
        if (result != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 38) { statxMissing = true; return null; }  // ENOSYS: fall back
            return errno switch
            {
                2 or 20 => (FileType.Other, 0, NotFound),              // ENOENT, ENOTDIR
                13 => (FileType.Other, 0, "permission denied"),                // EACCES
                36 => (FileType.Other, 0, "the file name is too long"),        // ENAMETOOLONG
                40 => (FileType.Other, 0, "too many levels of symbolic links"),// ELOOP
                _ => (FileType.Other, 0, $"cannot examine the file ({Marshal.GetPInvokeErrorMessage(errno)})"),
            };
        }
        int mode = BitConverter.ToUInt16(buffer[28..]) & 0xF000;
        long size = BitConverter.ToInt64(buffer[40..]);
        var type = mode switch
        {
            0x8000 => FileType.Regular,
            0x4000 => FileType.Directory,
            0x1000 => FileType.Fifo,
            0x2000 => FileType.CharacterDevice,
            0x6000 => FileType.BlockDevice,
            0xC000 => FileType.Socket,
            _ => FileType.Other,
        };
        return (type, size, null);
    }
}
