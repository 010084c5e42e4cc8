using System.IO.Compression;
using Ongko.Vision;

namespace Ongko.Data;

/// <summary>
/// IDX files (MNIST, EMNIST, Fashion-MNIST), gzipped or raw: unsigned-byte images [count, rows, columns]
/// and labels [count]. Big-endian header: two zero bytes, type 0x08 (ubyte), dimension count, sizes.
/// </summary>
public static class IdxReader
{
    /// <summary>
    /// Reads images and labels into in-memory samples (source = the images file name).
    /// <paramref name="transpose"/> flips rows and columns (EMNIST stores images transposed).
    /// </summary>
    public static List<Sample> Read(string imagesPath, string labelsPath, int classCount = 10, bool transpose = false, int labelOffset = 0)
    {
        var (imageShape, pixels) = ReadArray(imagesPath);
        var (labelShape, labels) = ReadArray(labelsPath);
        if (imageShape.Length != 3) throw new DataException($"expected a 3-dimensional image array, found {imageShape.Length} dimensions", imagesPath);
        if (labelShape.Length != 1) throw new DataException($"expected a 1-dimensional label array, found {labelShape.Length} dimensions", labelsPath);
        if (labelShape[0] != imageShape[0]) throw new DataException($"{labelShape[0]} labels for {imageShape[0]} images in {imagesPath}", labelsPath);
        if ((long)imageShape[1] * imageShape[2] > InputFiles.MaxImagePixels)
            throw new DataException($"images of {imageShape[1]}x{imageShape[2]} pixels are over the limit of {InputFiles.MaxImagePixels:N0}", imagesPath);
        int count = imageShape[0], rows = imageShape[1], columns = imageShape[2], size = rows * columns;
        string source = Path.GetFileName(imagesPath);
        var samples = new List<Sample>(count);
        for (int n = 0; n < count; n++)
        {
            int label = labels[n] - labelOffset;
            if (label < 0 || label >= classCount)
                throw new DataException($"label {labels[n]} of image {n} is outside 0..{classCount - 1 + labelOffset}", labelsPath);
            var image = transpose ? new ByteImage(1, columns, rows) : new ByteImage(1, rows, columns);
            var from = pixels.AsSpan(n * size, size);
            if (!transpose) from.CopyTo(image.Data);
            else for (int y = 0; y < rows; y++) for (int x = 0; x < columns; x++) image.Data[x * rows + y] = from[y * columns + x];
            samples.Add(new Sample(image, label, source, $"{source}#{n}"));
        }
        return samples;
    }

    /// <summary>The shape and bytes of one IDX ubyte array.</summary>
    public static (int[] Shape, byte[] Data) ReadArray(string path)
    {
        Exception Error(string message) => new DataException(message, path);
        byte[] bytes = InputFiles.ReadAllBytes(path, InputKind.Idx, Error);
        try
        {
            if (bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B)
            {
                // The decompressed size is capped too: a small gzip file can expand without bound.
                using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                bytes = InputFiles.ReadBounded(gzip, bytes.Length * 4, InputFiles.MaxBytes(InputKind.Idx), InputKind.Idx, m => Error($"decompressed: {m}"));
            }
        }
        catch (InvalidDataException e) { throw new DataException($"corrupt gzip data ({e.Message})", path, inner: e); }
        catch (IOException e) { throw new DataException($"cannot read the file ({e.Message})", path, inner: e); }
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0) throw new DataException("not an IDX file (bad magic number)", path);
        if (bytes[2] != 0x08) throw new DataException($"IDX element type 0x{bytes[2]:x2} is not unsigned byte (0x08)", path);
        int dimensions = bytes[3];
        if (dimensions < 1 || bytes.Length < 4 + 4 * dimensions) throw new DataException("IDX header is truncated", path);
        var shape = new int[dimensions];
        long total = 1;
        for (int d = 0; d < dimensions; d++)
        {
            shape[d] = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (shape[d] < 0) throw new DataException($"negative size in IDX header", path);
            if (d > 0 && shape[d] == 0) throw new DataException("zero size in IDX header", path);
            total = total > 0 && shape[d] > bytes.Length / total ? long.MaxValue : total * shape[d];  // saturates: never wraps
        }
        int offset = 4 + 4 * dimensions;
        if (bytes.Length - offset < total) throw new DataException($"IDX data is truncated: {bytes.Length - offset} bytes for {(total == long.MaxValue ? "more" : total.ToString("N0"))} elements", path);
        return (shape, bytes.AsSpan(offset, (int)total).ToArray());
    }
}
