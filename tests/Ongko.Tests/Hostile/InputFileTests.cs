using System.IO.Compression;
using Ongko.Data;
using Ongko.Serialization;

namespace Ongko.Tests.Hostile;

/// <summary>Issue class 1: no read blocks on a pipe, streams a device, or takes memory a file's size does not justify.</summary>
public class InputFileTests
{
    /// <summary>Every reader of user files, as (kind, read).</summary>
    public static readonly Dictionary<string, Action<string>> Readers = new()
    {
        ["image"] = path => ImageDecoder.Decode(path, 1),
        ["csv"] = path => CsvTable.Read(path),
        ["config"] = path => ConfigFile.Load(path),
        ["checkpoint"] = path => Checkpoint.Read(path),
        ["idx"] = path => IdxReader.ReadArray(path),
    };

    public static TheoryData<string> Kinds => new(Readers.Keys);

    static void AssertCleanError(Exception? thrown, string path, string fragment)
    {
        Assert.NotNull(thrown);
        Assert.True(thrown is DataException or ConfigException or CheckpointException, $"{thrown.GetType().Name}: {thrown.Message}");
        Assert.Contains(path, thrown.Message);
        Assert.Contains(fragment, thrown.Message);
    }

    [Theory, MemberData(nameof(Kinds))]
    public void ANamedPipeIsRefusedWithoutBlocking(string kind)
    {
        using var dir = new TempDirectory();
        string fifo = dir.File("input." + kind);
        if (!HostileFiles.TryMakeFifo(fifo)) return;  // no named pipes on this system: nothing can block
        var thrown = HostileFiles.ThrownWithin(() => Readers[kind](fifo), fifo);
        AssertCleanError(thrown, fifo, "named pipe (FIFO), not a regular file");
    }

    [Theory]
    [InlineData("image"), InlineData("checkpoint"), InlineData("csv")]
    public void ADeviceBehindASymbolicLinkIsRefusedWithoutReading(string kind)
    {
        if (!File.Exists("/dev/zero")) return;
        using var dir = new TempDirectory();
        string link = dir.File("x.png");
        File.CreateSymbolicLink(link, "/dev/zero");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var thrown = HostileFiles.ThrownWithin(() => Readers[kind](link));
        AssertCleanError(thrown, link, "character device");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "read into memory before refusing");
    }

    [Theory]
    [InlineData("config"), InlineData("checkpoint"), InlineData("image")]
    public void AFolderIsNamedAsAFolder(string kind)
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("sub"));
        AssertCleanError(HostileFiles.ThrownWithin(() => Readers[kind](dir.File("sub"))), dir.File("sub"), "is a folder");
    }

    [Fact]
    public void FilesOverTheLimitAreRefusedAndAtTheLimitRead()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("f"), new byte[11]);
        var error = Assert.Throws<DataException>(() => InputFiles.ReadAllBytes(dir.File("f"), InputKind.Csv, m => new DataException(m, dir.File("f")), maxBytes: 10));
        Assert.Contains("11 bytes is over the 10 bytes limit for a CSV file", error.Message);
        Assert.Equal(11, InputFiles.ReadAllBytes(dir.File("f"), InputKind.Csv, m => new DataException(m), maxBytes: 11).Length);
        Assert.True(InputFiles.MaxBytes(InputKind.Checkpoint) >= 1L << 30 || Environment.GetEnvironmentVariable("ONGKO_MAX_CHECKPOINT_BYTES") is not null);
    }

    /// <summary>
    /// A file longer than its size said when it was examined (here a /proc file, which reports size 0) is read past that
    /// size, still within the limit: the limit counts every byte read.
    /// </summary>
    [Fact]
    public void AFileLongerThanItsStatSizeIsReadWithinTheLimit()
    {
        if (!OperatingSystem.IsLinux()) return;
        const string path = "/proc/self/cmdline";
        var expected = File.ReadAllBytes(path);
        Assert.True(expected.Length > 20);
        Assert.Equal(expected, InputFiles.ReadAllBytes(path, InputKind.Csv, m => new DataException(m, path)));
        var error = Assert.Throws<DataException>(() => InputFiles.ReadAllBytes(path, InputKind.Csv, m => new DataException(m, path), maxBytes: 10));
        Assert.Contains("over the 10 bytes limit", error.Message);
        var atOne = Assert.Throws<DataException>(() => InputFiles.ReadAllBytes(path, InputKind.Csv, m => new DataException(m, path), maxBytes: 0));
        Assert.Contains("over the 0 bytes limit", atOne.Message);
    }

    [Fact]
    public void ACompressedIdxFileCannotExpandWithoutBound()
    {
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(new byte[1 << 20]);
        packed.Position = 0;
        using var unpack = new GZipStream(packed, CompressionMode.Decompress);
        var error = Assert.Throws<DataException>(() => InputFiles.ReadBounded(unpack, 0, 64 << 10, InputKind.Idx, m => new DataException(m)));
        Assert.Contains("over the 65,536 bytes limit", error.Message);
    }

    [Fact]
    public void AConfigThatIsNotUtf8IsNamedAsSuch()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("c.yaml"), [(byte)'e', (byte)':', 0xC3, 0x28]);
        var error = Assert.Throws<ConfigException>(() => ConfigFile.Load(dir.File("c.yaml")));
        Assert.Contains("not UTF-8", error.Message);
    }

    [Theory]
    [InlineData("flow lists")]
    [InlineData("flow mappings")]
    [InlineData("block lists")]
    public void DeeplyNestedYamlIsRefusedInsteadOfOverflowingTheStack(string form)
    {
        const int depth = 200_000;
        string text = form switch
        {
            "flow lists" => "epochs: " + new string('[', depth) + new string(']', depth),
            "flow mappings" => "epochs: " + string.Concat(Enumerable.Repeat("{a: ", depth)) + "1" + new string('}', depth),
            _ => "model:\n" + string.Concat(Enumerable.Repeat("- ", depth)) + "x\n",
        };
        var error = Assert.Throws<ConfigException>(() => ConfigFile.Parse(text, "deep.yaml"));
        Assert.Contains("deep.yaml: line", error.Message);
        Assert.Contains($"nested more than {ConfigFile.MaxNesting} deep", error.Message);
    }

    [Theory]
    [InlineData("png", 30000, 30000)]
    [InlineData("jpg", 30000, 30000)]
    [InlineData("png", 1_000_000, 41)]
    [InlineData("jpg", 65535, 65535)]
    public void AnImageDeclaringTooManyPixelsIsRefusedBeforeDecoding(string type, int width, int height)
    {
        using var dir = new TempDirectory();
        string path = dir.File("big." + type);
        File.WriteAllBytes(path, type == "png" ? HostileFiles.PngDeclaring(width, height) : HostileFiles.JpegDeclaring(width, height));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<DataException>(() => ImageDecoder.Decode(path, 1));
        Assert.Contains($"{width}x{height} pixels", error.Message);
        Assert.Contains("over the limit of 40,000,000", error.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "decoded before refusing");
    }

    [Fact]
    public void AnImageJustUnderThePixelLimitPassesTheHeaderCheck()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("ok.png"), HostileFiles.PngDeclaring(64, 48));
        // Its one IDAT holds too little data for 64x48: what fails is decoding, not the size check.
        var error = Record.Exception(() => ImageDecoder.Decode(dir.File("ok.png"), 1));
        Assert.True(error is null or DataException, error?.ToString());
        Assert.DoesNotContain("over the limit", error?.Message ?? "");
    }

    [Theory]
    [InlineData(0, 100_000, 100_000, "over the limit")]
    [InlineData(1, 0, 28, "zero size")]
    [InlineData(1, 1 << 30, 1 << 30, "truncated")]
    [InlineData(int.MaxValue, int.MaxValue, int.MaxValue, "truncated")]
    public void IdxHeadersDeclaringImpossibleImagesAreRefused(int count, int rows, int columns, string fragment)
    {
        using var dir = new TempDirectory();
        var header = new byte[16];
        header[2] = 0x08; header[3] = 3;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), count);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), rows);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), columns);
        File.WriteAllBytes(dir.File("images.idx"), [.. header, .. new byte[64]]);
        File.WriteAllBytes(dir.File("labels.idx"), [0, 0, 0x08, 1, 0, 0, 0, (byte)Math.Min(count, 1), 3]);
        var error = Assert.Throws<DataException>(() => IdxReader.Read(dir.File("images.idx"), dir.File("labels.idx")));
        Assert.Contains(fragment, error.Message);
    }
}
