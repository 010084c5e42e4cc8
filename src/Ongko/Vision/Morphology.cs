using System.Buffers;
using System.Numerics.Tensors;

namespace Ongko.Vision;

/// <summary>
/// Erosion, dilation, opening and closing with a square (rectangular) kernel, with OpenCV's
/// semantics: anchor at the centre, one iteration, and pixels outside the image ignored
/// (OpenCV's default border value for morphology). A square kernel is separable, so each
/// operation is a row pass and a column pass of running min/max, both done over the whole
/// flat padded buffer with <see cref="TensorPrimitives"/> (SIMD over all pixels at once).
/// </summary>
public static class Morphology
{
    public static void Erode(ReadOnlySpan<byte> source, Span<byte> destination, int height, int width, int kernel = 5)
        => Apply(source, destination, height, width, kernel, erode: true);

    public static void Dilate(ReadOnlySpan<byte> source, Span<byte> destination, int height, int width, int kernel = 5)
        => Apply(source, destination, height, width, kernel, erode: false);

    /// <summary>Erode then dilate: removes bright specks and thin bright strokes smaller than the kernel.</summary>
    public static void Open(ReadOnlySpan<byte> source, Span<byte> destination, int height, int width, int kernel = 5)
    {
        byte[] middle = ArrayPool<byte>.Shared.Rent(height * width);
        Erode(source, middle, height, width, kernel);
        Dilate(middle.AsSpan(0, height * width), destination, height, width, kernel);
        ArrayPool<byte>.Shared.Return(middle);
    }

    /// <summary>Dilate then erode: closes dark gaps smaller than the kernel.</summary>
    public static void Close(ReadOnlySpan<byte> source, Span<byte> destination, int height, int width, int kernel = 5)
    {
        byte[] middle = ArrayPool<byte>.Shared.Rent(height * width);
        Dilate(source, middle, height, width, kernel);
        Erode(middle.AsSpan(0, height * width), destination, height, width, kernel);
        ArrayPool<byte>.Shared.Return(middle);
    }

    // source, destination: [height, width]. Works in a buffer padded by r = kernel/2 on every side with
    // the neutral value (255 for min, 0 for max), so border pixels only see pixels inside the image.
    static void Apply(ReadOnlySpan<byte> source, Span<byte> destination, int height, int width, int kernel, bool erode)
    {
        if (kernel < 1 || kernel % 2 == 0) throw new ArgumentException("kernel size must be odd and positive", nameof(kernel));
        int pixels = height * width;
        if (source.Length < pixels || destination.Length < pixels) throw new ArgumentException("buffer shorter than the image");
        int r = kernel / 2, stride = width + 2 * r, rows = height + 2 * r, total = rows * stride;
        byte neutral = erode ? (byte)255 : (byte)0;

        byte[] paddedArray = ArrayPool<byte>.Shared.Rent(total), rowPassArray = ArrayPool<byte>.Shared.Rent(total);
        Span<byte> padded = paddedArray.AsSpan(0, total), rowPass = rowPassArray.AsSpan(0, total);
        padded.Fill(neutral);
        for (int y = 0; y < height; y++) source.Slice(y * width, width).CopyTo(padded.Slice((y + r) * stride + r, width));

        // Row pass: rowPass[i] = op(padded[i-r .. i+r]). Values that straddle two rows land only in pad columns.
        int length = total - 2 * r;
        Span<byte> rowOut = rowPass.Slice(r, length);
        padded.Slice(0, length).CopyTo(rowOut);
        for (int k = 1; k <= 2 * r; k++) Combine(rowOut, padded.Slice(k, length), rowOut, erode);

        // Column pass over the image rows: out[i] = op(rowPass[i - r*stride .. i + r*stride step stride]).
        int start = r * stride, span = height * stride;
        Span<byte> columnOut = padded.Slice(start, span); // the padded input is no longer needed
        rowPass.Slice(0, span).CopyTo(columnOut);
        for (int k = 1; k <= 2 * r; k++) Combine(columnOut, rowPass.Slice(k * stride, span), columnOut, erode);

        for (int y = 0; y < height; y++) columnOut.Slice(y * stride + r, width).CopyTo(destination.Slice(y * width, width));
        ArrayPool<byte>.Shared.Return(paddedArray);
        ArrayPool<byte>.Shared.Return(rowPassArray);
    }

    static void Combine(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, Span<byte> destination, bool min)
    {
        if (min) TensorPrimitives.Min(x, y, destination);
        else TensorPrimitives.Max(x, y, destination);
    }
}
