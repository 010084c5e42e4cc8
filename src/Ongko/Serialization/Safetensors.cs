using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ongko.Tensors;

namespace Ongko.Serialization;

/// <summary>The tensors and string metadata of one safetensors file.</summary>
public sealed record SafetensorsContent(
    IReadOnlyDictionary<string, Tensor> Tensors,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>A file that is not a valid safetensors file, or does not match what was expected.</summary>
public sealed class CheckpointException : OngkoInputException
{
    /// <summary>A message that already names the file.</summary>
    public CheckpointException(string message) : base(message) { }
    /// <summary>A problem with the checkpoint at <paramref name="filePath"/>.</summary>
    public CheckpointException(string problem, string filePath) : base(problem, filePath) { }
}

/// <summary>
/// The safetensors format: 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then raw little-endian data. Only F32 is written or read.
/// The reader trusts nothing: every length and offset is checked against the file before use.
/// </summary>
public static class Safetensors
{
    /// <summary>Headers beyond this size are refused rather than allocated.</summary>
    const long MaxHeaderBytes = 100 << 20;

    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (key, value) in metadata) meta[key] = value;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var (name, tensor) in list)
        {
            long bytes = (long)tensor.Length * sizeof(float);
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(tensor.ShapeArray.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8;  // keeps the data 8-byte aligned, as the spec advises

        AtomicFile.Write(path, stream =>
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)padded);
            stream.Write(lengthBytes);
            stream.Write(headerBytes);
            for (int i = headerBytes.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var (_, tensor) in list)
            {
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian machines are not supported");
                stream.Write(MemoryMarshal.AsBytes(tensor.Span));
            }
        });
    }

    public static SafetensorsContent Read(string path)
    {
        byte[] file = Data.InputFiles.ReadAllBytes(path, Data.InputKind.Checkpoint, message => new CheckpointException($"{path}: {message}"));
        return Parse(file, path);
    }

    public static SafetensorsContent Parse(ReadOnlySpan<byte> file, string path)
    {
        if (file.Length < 10) throw new CheckpointException($"{path}: not a safetensors checkpoint (only {file.Length} bytes)");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        // A safetensors file starts with the header's length and then its JSON object: anything else is some other file.
        if (headerLength < 2 || headerLength > (ulong)(file.Length - 8) || headerLength > MaxHeaderBytes || file[8] != (byte)'{')
            throw new CheckpointException($"{path}: not a safetensors checkpoint (it does not start with a header length and a JSON header" +
                                          (file[8] == (byte)'{' ? $"; the header length {headerLength} does not fit in a file of {file.Length} bytes)" : ")"));
        var headerBytes = file.Slice(8, (int)headerLength);
        var data = file[(8 + (int)headerLength)..];
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw new CheckpointException($"{path}: the header is not UTF-8 text");

        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new CheckpointException($"{path}: header is not a JSON object");
        }
        catch (JsonException e) { throw new CheckpointException($"{path}: header is not valid JSON: {e.Message}"); }

        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, Tensor>();
        var ranges = new List<(long Begin, long End, string Name)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta) throw new CheckpointException($"{path}: __metadata__ is not an object");
                foreach (var (key, value) in meta)
                    metadata[key] = value is JsonValue v && v.GetValueKind() == JsonValueKind.String
                        ? v.GetValue<string>() : throw new CheckpointException($"{path}: metadata '{key}' is not a string");
                continue;
            }
            if (node is not JsonObject entry) throw new CheckpointException($"{path}: entry '{name}' is not an object");
            string dtype = entry["dtype"] is JsonValue d && d.GetValueKind() == JsonValueKind.String
                ? d.GetValue<string>() : throw new CheckpointException($"{path}: '{name}' has no dtype string");
            if (dtype != "F32") throw new CheckpointException($"{path}: '{name}' has dtype {dtype}; only F32 is supported");
            int[] shape = ReadInts(entry["shape"], path, name, "shape");
            long[] offsets = ReadLongs(entry["data_offsets"], path, name);
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > data.Length)
                throw new CheckpointException($"{path}: '{name}' data_offsets [{string.Join(", ", offsets)}] lie outside the {data.Length} data bytes");
            long count = 1;
            foreach (int dimension in shape)
            {
                if (dimension < 0) throw new CheckpointException($"{path}: '{name}' has a negative dimension");
                count = dimension == 0 ? 0 : count > data.Length / dimension ? long.MaxValue / 8 : count * dimension;  // saturates, never wraps
            }
            if (count * sizeof(float) != offsets[1] - offsets[0])
                throw new CheckpointException($"{path}: '{name}' shape {Tensor.ShapeString(shape)} needs {(count < data.Length ? $"{count * 4} bytes" : "more bytes than the file has")} but data_offsets span {offsets[1] - offsets[0]}");
            var tensor = new Tensor(shape);
            data.Slice((int)offsets[0], (int)(offsets[1] - offsets[0])).CopyTo(MemoryMarshal.AsBytes(tensor.Span));
            tensors[name] = tensor;
            ranges.Add((offsets[0], offsets[1], name));
        }
        ranges.Sort();
        for (int i = 1; i < ranges.Count; i++)
            if (ranges[i].Begin < ranges[i - 1].End)
                throw new CheckpointException($"{path}: tensors '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap");
        return new SafetensorsContent(tensors, metadata);
    }

    static int[] ReadInts(JsonNode? node, string path, string name, string field)
    {
        if (node is not JsonArray array) throw new CheckpointException($"{path}: '{name}' has no {field} array");
        try { return array.Select(n => n!.GetValue<int>()).ToArray(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NullReferenceException)
        { throw new CheckpointException($"{path}: '{name}' {field} is not a list of integers"); }
    }

    static long[] ReadLongs(JsonNode? node, string path, string name)
    {
        if (node is not JsonArray array) throw new CheckpointException($"{path}: '{name}' has no data_offsets array");
        try { return array.Select(n => n!.GetValue<long>()).ToArray(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NullReferenceException)
        { throw new CheckpointException($"{path}: '{name}' data_offsets is not a list of integers"); }
    }
}
