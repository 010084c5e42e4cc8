using System.Buffers.Binary;
using System.Text;

namespace Ongko.Training;

/// <summary>
/// Writes scalars as TensorBoard event files (the counterpart of the reference's Weights &amp; Biases logging):
/// TFRecord framing (length, masked CRC-32C, data, masked CRC-32C) around hand-encoded Event protobufs
/// whose Summary holds (tag, simple_value). `tensorboard --logdir OUT` reads them.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    readonly FileStream stream;

    public TensorBoardWriter(string directory)
    {
        Directory.CreateDirectory(directory);
        double now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Path = System.IO.Path.Combine(directory, $"events.out.tfevents.{(long)now}.{Environment.MachineName}.{Environment.ProcessId}");
        stream = new FileStream(Path, FileMode.Create, FileAccess.Write, FileShare.Read);
        var header = new ProtoWriter();
        header.Double(1, now);
        header.String(3, "brain.Event:2");
        WriteRecord(header.ToArray());
    }

    public string Path { get; }

    public void AddScalar(string tag, float value, long step)
    {
        var summaryValue = new ProtoWriter();
        summaryValue.String(1, tag);
        summaryValue.Float(2, value);
        var summary = new ProtoWriter();
        summary.Message(1, summaryValue);
        var @event = new ProtoWriter();
        @event.Double(1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
        @event.Varint(2, (ulong)step);
        @event.Message(5, summary);
        WriteRecord(@event.ToArray());
    }

    public void Flush() => stream.Flush();

    void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        stream.Write(header);
        stream.Write(data);
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(data));
        stream.Write(footer);
    }

    public void Dispose() => stream.Dispose();

    /// <summary>Reads back every (step, tag, value) scalar of an event file, verifying each record's checksums.</summary>
    public static List<(long Step, string Tag, float Value)> ReadScalars(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var scalars = new List<(long, string, float)>();
        int offset = 0;
        while (offset < bytes.Length)
        {
            if (bytes.Length - offset < 12) throw new InvalidDataException($"{path}: truncated record at byte {offset}");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(offset));
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 8)) != Crc32C.Masked(bytes.AsSpan(offset, 8)))
                throw new InvalidDataException($"{path}: bad length checksum at byte {offset}");
            if (length > (ulong)(bytes.Length - offset - 16)) throw new InvalidDataException($"{path}: record at byte {offset} runs past the end");
            var data = bytes.AsSpan(offset + 12, (int)length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 12 + (int)length)) != Crc32C.Masked(data))
                throw new InvalidDataException($"{path}: bad data checksum at byte {offset}");
            long step = 0;
            foreach (var (field, value) in ProtoReader.Fields(data.ToArray()))
            {
                if (field == 2) step = (long)value.Varint;
                if (field != 5) continue;
                foreach (var (summaryField, summaryValue) in ProtoReader.Fields(value.Bytes!))
                {
                    if (summaryField != 1) continue;
                    string tag = "";
                    float scalar = float.NaN;
                    foreach (var (f, v) in ProtoReader.Fields(summaryValue.Bytes!))
                    {
                        if (f == 1) tag = Encoding.UTF8.GetString(v.Bytes!);
                        if (f == 2) scalar = BitConverter.Int32BitsToSingle((int)v.Varint);
                    }
                    scalars.Add((step, tag, scalar));
                }
            }
            offset += 16 + (int)length;
        }
        return scalars;
    }

    /// <summary>The few protobuf wire-format writes an Event needs.</summary>
    sealed class ProtoWriter
    {
        readonly MemoryStream buffer = new();
        void Tag(int field, int wireType) => RawVarint((ulong)(field << 3 | wireType));
        void RawVarint(ulong value)
        {
            while (value >= 0x80) { buffer.WriteByte((byte)(value | 0x80)); value >>= 7; }
            buffer.WriteByte((byte)value);
        }
        public void Varint(int field, ulong value) { Tag(field, 0); RawVarint(value); }
        public void Double(int field, double value)
        {
            Tag(field, 1);
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
            buffer.Write(bytes);
        }
        public void Float(int field, float value)
        {
            Tag(field, 5);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
            buffer.Write(bytes);
        }
        public void Bytes(int field, ReadOnlySpan<byte> bytes) { Tag(field, 2); RawVarint((ulong)bytes.Length); buffer.Write(bytes); }
        public void String(int field, string text) => Bytes(field, Encoding.UTF8.GetBytes(text));
        public void Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());
        public byte[] ToArray() => buffer.ToArray();
    }

    /// <summary>Field-by-field protobuf decoding: varints, fixed 32/64 (returned in Varint) and length-delimited bytes.</summary>
    static class ProtoReader
    {
        public static IEnumerable<(int Field, (ulong Varint, byte[]? Bytes) Value)> Fields(byte[] data)
        {
            int i = 0;
            while (i < data.Length)
            {
                ulong key = ReadVarint(data, ref i);
                int field = (int)(key >> 3), wire = (int)(key & 7);
                switch (wire)
                {
                    case 0: yield return (field, (ReadVarint(data, ref i), null)); break;
                    case 1: yield return (field, (BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(i)), null)); i += 8; break;
                    case 5: yield return (field, (BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(i)), null)); i += 4; break;
                    case 2:
                        int length = (int)ReadVarint(data, ref i);
                        yield return (field, (0, data.AsSpan(i, length).ToArray()));
                        i += length;
                        break;
                    default: throw new InvalidDataException($"unsupported protobuf wire type {wire}");
                }
            }
        }

        static ulong ReadVarint(byte[] data, ref int i)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = data[i++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
        }
    }
}

/// <summary>CRC-32C (Castagnoli), as TFRecord framing uses, with TensorFlow's mask.</summary>
public static class Crc32C
{
    static readonly uint[] table = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
    }
}
